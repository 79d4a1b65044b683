# coop_add_plugin(<name> SOURCES <file>... [MIGRATIONS <file.sql>...])
#
# Builds <name>.so, a coopd plugin: hidden visibility so that only
# coop_plugin_entry is exported, -Wl,--no-undefined to prove it needs nothing
# of coopd's, and its SQL migrations embedded as the array
# `const coop_migration <name>_migrations[]` (in the order given, which should be
# the NNN_ order), ready for the descriptor's .migrations field.
# The .so goes to COOP_PLUGIN_OUTPUT_DIR when that is set.
function(coop_add_plugin name)
    cmake_parse_arguments(ARG "" "" "SOURCES;MIGRATIONS" ${ARGN})
    set(sources ${ARG_SOURCES})
    set(embedded ${CMAKE_CURRENT_BINARY_DIR}/${name}_migrations.c)
    set(sql_files "")
    foreach(f IN LISTS ARG_MIGRATIONS)
        get_filename_component(abs ${f} ABSOLUTE)
        list(APPEND sql_files ${abs})
    endforeach()
    string(REPLACE ";" "|" sql_arg "${sql_files}")
    add_custom_command(
        OUTPUT ${embedded}
        COMMAND ${CMAKE_COMMAND} -DNAME=${name} "-DFILES=${sql_arg}" -DOUT=${embedded}
                -P ${COOP_SDK_EMBED_SCRIPT}
        DEPENDS ${sql_files} ${COOP_SDK_EMBED_SCRIPT}
        COMMENT "Embedding ${name}'s SQL migrations"
        VERBATIM)
    list(APPEND sources ${embedded})

    add_library(${name} MODULE ${sources})
    target_link_libraries(${name} PRIVATE CoopSDK::sdk)
    set_target_properties(${name} PROPERTIES
        PREFIX ""
        C_VISIBILITY_PRESET hidden
        POSITION_INDEPENDENT_CODE ON)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
    if(COOP_PLUGIN_OUTPUT_DIR)
        set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${COOP_PLUGIN_OUTPUT_DIR})
    endif()
endfunction()
