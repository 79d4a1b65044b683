/*
 * The small shared pieces of identity (core/identity.c): reading ids from path
 * parameters and naming roles.
 */
#include "identity_internal.h"
#include "unit.h"

static void test_parse_id(void)
{
    CHECK_INT(identity_parse_id("1"), 1);
    CHECK_INT(identity_parse_id("42"), 42);
    CHECK_INT(identity_parse_id("9223372036854775807"), INT64_MAX);
    /* Anything else is "no such id": the route answers 404 without asking the database. */
    CHECK_INT(identity_parse_id("9223372036854775808"), 0); /* out of range */
    CHECK_INT(identity_parse_id("0"), 0);
    CHECK_INT(identity_parse_id("01"), 0); /* one spelling per id */
    CHECK_INT(identity_parse_id("-1"), 0);
    CHECK_INT(identity_parse_id("+1"), 0);
    CHECK_INT(identity_parse_id(" 1"), 0);
    CHECK_INT(identity_parse_id("1 "), 0);
    CHECK_INT(identity_parse_id("1a"), 0);
    CHECK_INT(identity_parse_id("1.0"), 0);
    CHECK_INT(identity_parse_id("0x10"), 0);
    CHECK_INT(identity_parse_id(""), 0);
    CHECK_INT(identity_parse_id(NULL), 0);
}

static void test_roles(void)
{
    CHECK_STR(identity_role_name(COOP_ROLE_OPERATOR), "operator");
    CHECK_STR(identity_role_name(COOP_ROLE_MEMBER), "member");
    CHECK_STR(identity_role_name(COOP_ROLE_PARTNER), "partner");
    CHECK_STR(identity_role_name(COOP_ROLE_CUSTOMER), "customer");
    CHECK(identity_role_name(0) == NULL);
    CHECK(identity_role_name(COOP_ROLES_ALL) == NULL); /* a set of roles is not one role */
    CHECK(identity_role_name(COOP_PUBLIC) == NULL);
    CHECK_INT(identity_role_parse("operator"), COOP_ROLE_OPERATOR);
    CHECK_INT(identity_role_parse("customer"), COOP_ROLE_CUSTOMER);
    CHECK_INT(identity_role_parse("Operator"), 0);
    CHECK_INT(identity_role_parse(""), 0);
    CHECK_INT(identity_role_parse(NULL), 0);
}

int main(void)
{
    test_parse_id();
    test_roles();
    return unit_finish();
}
