/*
 * AgentRequest: the invoke body, parsed with jansson and validated field
 * by field so a client learns exactly what is wrong. Choices: duplicate
 * keys are invalid JSON (JSON_REJECT_DUPLICATES); unknown fields are
 * refused (a typo such as "max_token" must not be silently ignored);
 * null counts as absent for the optional fields.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_ID_BYTES 256

static int invalid(const char **code, char *msg, size_t cap, const char *fmt, const char *field)
{
    *code = "invalid_request";
    snprintf(msg, cap, fmt, field);
    return -EINVAL;
}

static bool absent(json_t *v)
{
    return !v || json_is_null(v);
}

/* session_id, user_id: optional non-empty strings of at most 256 bytes. */
static int id_field(json_t *root, const char *key, const char **out, const char **code, char *msg,
                    size_t cap)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    if (absent(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > MAX_ID_BYTES)
        return invalid(code, msg, cap, "%s must be a non-empty string of at most 256 bytes", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return invalid(code, msg, cap, "%s must not contain NUL characters", key);
    *out = json_string_value(v);
    return 0;
}

static int check_fields(json_t *root, ac_agent_request *r, const char **code, char *msg, size_t cap)
{
    static const char *const known[] = {"session_id", "user_id",     "input",      "context",
                                        "tools",      "temperature", "max_tokens", "stream"};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        size_t i = 0;
        while (i < AC_ARRAY_LEN(known) && strcmp(known[i], key) != 0)
            i++;
        if (i == AC_ARRAY_LEN(known))
            return invalid(code, msg, cap, "unknown field \"%.64s\"", key);
    }
    if (id_field(root, "session_id", &r->session_id, code, msg, cap) ||
        id_field(root, "user_id", &r->user_id, code, msg, cap))
        return -EINVAL;
    r->input = json_object_get(root, "input");
    if (!r->input)
        return invalid(code, msg, cap, "%s is required", "input");
    v = json_object_get(root, "context");
    if (!absent(v) && !json_is_object(v))
        return invalid(code, msg, cap, "%s must be an object", "context");
    r->context = absent(v) ? NULL : v;
    v = json_object_get(root, "tools");
    if (!absent(v)) {
        size_t i;
        json_t *t;
        if (!json_is_array(v))
            return invalid(code, msg, cap, "%s must be an array of strings", "tools");
        json_array_foreach(v, i, t) if (!json_is_string(t))
        {
            char field[32];
            snprintf(field, sizeof field, "tools[%zu]", i);
            return invalid(code, msg, cap, "%s must be a string", field);
        }
        r->tools = v;
    }
    v = json_object_get(root, "temperature");
    if (!absent(v)) {
        double t = json_is_number(v) ? json_number_value(v) : -1;
        if (!json_is_number(v) || !(t >= 0 && t <= 2))
            return invalid(code, msg, cap, "%s must be a number from 0 to 2", "temperature");
        r->temperature = t;
        r->has_temperature = true;
    }
    v = json_object_get(root, "max_tokens");
    if (!absent(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
            return invalid(code, msg, cap, "%s must be an integer from 1 to 1000000", "max_tokens");
        r->max_tokens = json_integer_value(v);
    }
    v = json_object_get(root, "stream");
    if (!absent(v)) {
        if (!json_is_boolean(v))
            return invalid(code, msg, cap, "%s must be true or false", "stream");
        r->stream = json_is_true(v);
    }
    return 0;
}

int ac__agent_request_parse(const char *body, size_t len, ac_agent_request *out, const char **code,
                            char *msg, size_t msgcap)
{
    json_error_t je;
    json_t *root;
    memset(out, 0, sizeof *out);
    if (len == 0) {
        *code = "invalid_json";
        snprintf(msg, msgcap, "empty body: expected a JSON object");
        return -EINVAL;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        *code = "invalid_json";
        snprintf(msg, msgcap, "invalid JSON at line %d, column %d: %s", je.line, je.column,
                 je.text);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return invalid(code, msg, msgcap, "%s", "the body must be a JSON object");
    }
    if (check_fields(root, out, code, msg, msgcap)) {
        json_decref(root);
        memset(out, 0, sizeof *out);
        return -EINVAL;
    }
    out->root = root;
    return 0;
}
