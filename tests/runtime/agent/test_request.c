/* AgentRequest parsing: every field, and a precise 400 for each mistake. */
#include "agentcore.h"

#include "../../../runtime/agent/internal.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The spans point into the body: no copy. */
static bool span_is(struct ac_http_str s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

Test(runtime_agent_request, full_request_parses_every_field)
{
    const char *body = "{\"session_id\":\"s1\",\"user_id\":\"u1\",\"input\":{\"q\":1},"
                       "\"context\":{\"k\":\"v\"},\"tools\":[\"search\",\"calc\"],"
                       "\"temperature\":0.5,\"max_tokens\":128,\"stream\":true}";
    struct ac__envelope r;
    const char *code = NULL;
    char msg[256];
    cr_assert_eq(ac__agent_request_scan(body, strlen(body), &r, &code, msg, sizeof msg), 0);
    cr_assert_str_eq(ac__envelope_session(&r), "s1");
    cr_assert_str_eq(ac__envelope_user(&r), "u1");
    cr_assert(span_is(r.input, "{\"q\":1}"));
    cr_assert(span_is(r.tools, "[\"search\",\"calc\"]"));
    cr_assert(span_is(r.context, "{\"k\":\"v\"}"));
    cr_assert(r.has_temperature);
    cr_assert_float_eq(r.temperature, 0.5, 1e-9);
    cr_assert_eq(r.max_tokens, 128);
    cr_assert(r.stream);
}

Test(runtime_agent_request, optional_fields_may_be_absent_or_null)
{
    const char *body = "{\"input\":\"x\",\"session_id\":null,\"tools\":null,\"stream\":null}";
    struct ac__envelope r;
    const char *code;
    char msg[256];
    cr_assert_eq(ac__agent_request_scan(body, strlen(body), &r, &code, msg, sizeof msg), 0);
    cr_assert_null(ac__envelope_session(&r));
    cr_assert_eq(r.tools.len, 0);
    cr_assert_eq(r.context.len, 0);
    cr_assert(span_is(r.input, "\"x\""));
    cr_assert(!r.has_temperature);
    cr_assert_eq(r.max_tokens, 0);
    cr_assert(!r.stream);
}

Test(runtime_agent_request, each_invalid_body_gets_a_precise_message)
{
    static const struct {
        const char *body, *code, *msg;
    } cases[] = {
        {"", "invalid_json", "empty body: expected a JSON object"},
        {"{\"input\":", "invalid_json", NULL},
        {"{\"input\":1,\"input\":2}", "invalid_json", NULL},
        {"[1,2]", "invalid_request", "the body must be a JSON object"},
        {"{}", "invalid_request", "input is required"},
        {"{\"input\":1,\"max_token\":5}", "invalid_request", "unknown field \"max_token\""},
        {"{\"input\":1,\"session_id\":5}", "invalid_request",
         "session_id must be a non-empty string of at most 256 bytes"},
        {"{\"input\":1,\"session_id\":\"\"}", "invalid_request",
         "session_id must be a non-empty string of at most 256 bytes"},
        {"{\"input\":1,\"user_id\":[]}", "invalid_request",
         "user_id must be a non-empty string of at most 256 bytes"},
        {"{\"input\":1,\"context\":\"c\"}", "invalid_request", "context must be an object"},
        {"{\"input\":1,\"tools\":{}}", "invalid_request", "tools must be an array of strings"},
        {"{\"input\":1,\"tools\":[\"a\",2]}", "invalid_request", "tools[1] must be a string"},
        {"{\"input\":1,\"temperature\":2.5}", "invalid_request",
         "temperature must be a number from 0 to 2"},
        {"{\"input\":1,\"temperature\":\"hot\"}", "invalid_request",
         "temperature must be a number from 0 to 2"},
        {"{\"input\":1,\"max_tokens\":0}", "invalid_request",
         "max_tokens must be an integer from 1 to 1000000"},
        {"{\"input\":1,\"max_tokens\":1.5}", "invalid_request",
         "max_tokens must be an integer from 1 to 1000000"},
        {"{\"input\":1,\"stream\":\"yes\"}", "invalid_request", "stream must be true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ac__envelope r;
        const char *code = NULL;
        char msg[256] = "";
        cr_assert_eq(ac__agent_request_scan(cases[i].body, strlen(cases[i].body), &r, &code, msg,
                                            sizeof msg),
                     -EINVAL, "case %zu accepted", i);
        cr_assert_str_eq(code, cases[i].code, "case %zu", i);
        if (cases[i].msg)
            cr_assert_str_eq(msg, cases[i].msg, "case %zu", i);
        else
            cr_assert(strstr(msg, "invalid JSON at line 1") == msg, "case %zu: %s", i, msg);
        cr_assert_eq(r.input.len, 0);
    }
}

Test(runtime_agent_request, long_session_ids_are_refused)
{
    char body[400];
    char id[258];
    memset(id, 'a', 257);
    id[257] = 0;
    snprintf(body, sizeof body, "{\"input\":1,\"session_id\":\"%s\"}", id);
    struct ac__envelope r;
    const char *code;
    char msg[256];
    cr_assert_eq(ac__agent_request_scan(body, strlen(body), &r, &code, msg, sizeof msg), -EINVAL);
    id[256] = 0;
    snprintf(body, sizeof body, "{\"input\":1,\"session_id\":\"%s\"}", id);
    cr_assert_eq(ac__agent_request_scan(body, strlen(body), &r, &code, msg, sizeof msg), 0);
    cr_assert_eq(r.session_len, 256);
}
