/*
 * The differential oracle: the jansson-based AgentRequest parser that
 * request.c's scan replaced (kept verbatim in logic), and the comparison
 * of both verdicts. Shared by test_json.c and the fuzz_agent_request
 * libFuzzer harness; test code only.
 */
#ifndef AC_TEST_REQUEST_ORACLE_H
#define AC_TEST_REQUEST_ORACLE_H

#include "../../../runtime/agent/internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct oracle {
    const char *session_id, *user_id;
    json_t *input, *context, *tools, *root;
    double temperature;
    bool has_temperature, stream;
    int64_t max_tokens;
};

static int oracle_invalid(const char **code, char *msg, size_t cap, const char *fmt,
                          const char *field)
{
    *code = "invalid_request";
    snprintf(msg, cap, fmt, field);
    return -EINVAL;
}

static bool oracle_absent(json_t *v)
{
    return !v || json_is_null(v);
}

static int oracle_id(json_t *root, const char *key, const char **out, const char **code, char *msg,
                     size_t cap)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    if (oracle_absent(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256)
        return oracle_invalid(code, msg, cap, "%s must be a non-empty string of at most 256 bytes",
                              key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return oracle_invalid(code, msg, cap, "%s must not contain NUL characters", key);
    *out = json_string_value(v);
    return 0;
}

static int oracle_fields(json_t *root, struct oracle *r, const char **code, char *msg, size_t cap)
{
    static const char *const known[] = {"session_id", "user_id",     "input",      "context",
                                        "tools",      "temperature", "max_tokens", "stream"};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], key) != 0)
            i++;
        if (i == sizeof known / sizeof known[0])
            return oracle_invalid(code, msg, cap, "unknown field \"%.64s\"", key);
    }
    if (oracle_id(root, "session_id", &r->session_id, code, msg, cap) ||
        oracle_id(root, "user_id", &r->user_id, code, msg, cap))
        return -EINVAL;
    r->input = json_object_get(root, "input");
    if (!r->input)
        return oracle_invalid(code, msg, cap, "%s is required", "input");
    v = json_object_get(root, "context");
    if (!oracle_absent(v) && !json_is_object(v))
        return oracle_invalid(code, msg, cap, "%s must be an object", "context");
    r->context = oracle_absent(v) ? NULL : v;
    v = json_object_get(root, "tools");
    if (!oracle_absent(v)) {
        size_t i;
        json_t *t;
        if (!json_is_array(v))
            return oracle_invalid(code, msg, cap, "%s must be an array of strings", "tools");
        json_array_foreach(v, i, t) if (!json_is_string(t))
        {
            char field[32];
            snprintf(field, sizeof field, "tools[%zu]", i);
            return oracle_invalid(code, msg, cap, "%s must be a string", field);
        }
        r->tools = v;
    }
    v = json_object_get(root, "temperature");
    if (!oracle_absent(v)) {
        double t = json_is_number(v) ? json_number_value(v) : -1;
        if (!json_is_number(v) || !(t >= 0 && t <= 2))
            return oracle_invalid(code, msg, cap, "%s must be a number from 0 to 2", "temperature");
        r->temperature = t;
        r->has_temperature = true;
    }
    v = json_object_get(root, "max_tokens");
    if (!oracle_absent(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
            return oracle_invalid(code, msg, cap, "%s must be an integer from 1 to 1000000",
                                  "max_tokens");
        r->max_tokens = json_integer_value(v);
    }
    v = json_object_get(root, "stream");
    if (!oracle_absent(v)) {
        if (!json_is_boolean(v))
            return oracle_invalid(code, msg, cap, "%s must be true or false", "stream");
        r->stream = json_is_true(v);
    }
    return 0;
}

/*
 * The old ac__agent_request_parse, plus one deliberate difference: a NUL
 * byte anywhere is invalid JSON. jansson's lexer drops one NUL that
 * follows a number or a literal (its unget leaves a 0 in its look-ahead
 * buffer, which reads as "empty"), so it accepted "{\"input\":1\0}";
 * RFC 8259 does not, nor does the scan. On success r->root owns the trees.
 */
static int oracle_parse(const char *body, size_t len, struct oracle *r, const char **code,
                        char *msg, size_t cap)
{
    json_error_t je;
    memset(&je, 0, sizeof je);
    memset(r, 0, sizeof *r);
    if (len == 0) {
        *code = "invalid_json";
        snprintf(msg, cap, "empty body: expected a JSON object");
        return -EINVAL;
    }
    json_t *root = memchr(body, 0, len) ? NULL : json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root && memchr(body, 0, len))
        snprintf(je.text, sizeof je.text, "NUL byte");
    if (!root) {
        *code = "invalid_json";
        snprintf(msg, cap, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return oracle_invalid(code, msg, cap, "%s", "the body must be a JSON object");
    }
    if (oracle_fields(root, r, code, msg, cap)) {
        json_decref(root);
        memset(r, 0, sizeof *r);
        return -EINVAL;
    }
    r->root = root;
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A tree of a raw span equal to the oracle's (NULL on both sides counts). */
static bool same_tree(struct ac_http_str text, json_t *want)
{
    if (!text.len)
        return want == NULL;
    json_t *got = json_loadb(text.p, text.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    bool same = got && want && json_equal(got, want);
    json_decref(got);
    return same;
}

/*
 * Runs both parsers on `body`; returns NULL when they agree, else what
 * differs (written to why). Agreement: the same result and code, the
 * same message for invalid_request, and on success the same fields.
 */
static const char *request_differs(const char *body, size_t len, char *why, size_t cap)
{
    struct oracle o;
    struct ac__envelope e;
    const char *ocode = NULL, *ecode = NULL;
    char omsg[256] = "", emsg[256] = "";
    int orc = oracle_parse(body, len, &o, &ocode, omsg, sizeof omsg);
    int erc = ac__agent_request_scan(body, len, &e, &ecode, emsg, sizeof emsg);
    const char *diff = NULL;
    if (orc != erc)
        diff = "verdict";
    else if (orc && strcmp(ocode, ecode) != 0)
        diff = "code";
    else if (orc && strcmp(ocode, "invalid_request") == 0 && strcmp(omsg, emsg) != 0)
        diff = "message";
    else if (!orc && (!same_str(o.session_id, ac__envelope_session(&e)) ||
                      !same_str(o.user_id, ac__envelope_user(&e))))
        diff = "ids";
    else if (!orc && (o.has_temperature != e.has_temperature || o.temperature != e.temperature ||
                      o.max_tokens != e.max_tokens || o.stream != e.stream))
        diff = "scalar fields";
    else if (!orc && (!same_tree(e.input, o.input) || !same_tree(e.context, o.context) ||
                      !same_tree(e.tools, o.tools)))
        diff = "trees";
    if (diff)
        snprintf(why, cap, "%s: jansson %d %s \"%s\" / scan %d %s \"%s\"", diff, orc,
                 ocode ? ocode : "-", omsg, erc, ecode ? ecode : "-", emsg);
    json_decref(o.root);
    return diff ? why : NULL;
}

#endif
