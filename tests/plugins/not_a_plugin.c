/* A shared object without coop_plugin_entry, as a library dropped into the
 * plugin folder by mistake would be. */
__attribute__((visibility("default"))) int not_a_plugin_answer(void);
__attribute__((visibility("default"))) int not_a_plugin_answer(void)
{
    return 42;
}
