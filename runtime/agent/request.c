/*
 * AgentRequest: the invoke body, validated by one scan without a tree
 * (json.c) and then field by field so a client learns exactly what is
 * wrong. `input`, `context` and `tools` stay raw text: a handler gets a
 * tree only if it asks (call.c). Choices: duplicate keys are invalid
 * JSON; unknown fields are refused (a typo such as "max_token" must not
 * be silently ignored); null counts as absent for the optional fields.
 * The verdicts and their order are those of the jansson-based parser
 * this replaced: the whole text is checked first (invalid_json), then
 * unknown fields in document order, then the fields in a fixed order.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field {
    F_SESSION,
    F_USER,
    F_INPUT,
    F_CONTEXT,
    F_TOOLS,
    F_TEMPERATURE,
    F_MAX_TOKENS,
    F_STREAM
};

static const char *const names[] = {
    [F_SESSION] = "session_id",    [F_USER] = "user_id",  [F_INPUT] = "input",
    [F_CONTEXT] = "context",       [F_TOOLS] = "tools",   [F_TEMPERATURE] = "temperature",
    [F_MAX_TOKENS] = "max_tokens", [F_STREAM] = "stream",
};

#define LONGEST_NAME 11 /* "temperature" */

struct members {
    struct ac__json_member field[AC_ARRAY_LEN(names)];
    bool seen[AC_ARRAY_LEN(names)];
    struct ac__json_member unknown; /* the first one */
    bool has_unknown;
};

static int field_of(const struct ac__json_member *m)
{
    char buf[6 * LONGEST_NAME];
    const char *k = m->key.p;
    size_t len = m->key.len;
    if (m->key_escaped) {
        if (len > sizeof buf) /* every escape decodes to at least 1 byte per 6 */
            return -1;
        len = ac__json_unescape(k, len, buf);
        k = buf;
    }
    /* a switch on the length: one memcmp per member, no strlen */
    switch (len) {
    case 5:
        return memcmp(k, "input", 5) == 0 ? F_INPUT : memcmp(k, "tools", 5) == 0 ? F_TOOLS : -1;
    case 6:
        return memcmp(k, "stream", 6) == 0 ? F_STREAM : -1;
    case 7:
        return memcmp(k, "user_id", 7) == 0   ? F_USER
               : memcmp(k, "context", 7) == 0 ? F_CONTEXT
                                              : -1;
    case 10:
        return memcmp(k, "session_id", 10) == 0   ? F_SESSION
               : memcmp(k, "max_tokens", 10) == 0 ? F_MAX_TOKENS
                                                  : -1;
    case 11:
        return memcmp(k, "temperature", 11) == 0 ? F_TEMPERATURE : -1;
    default:
        return -1;
    }
}

static void on_member(void *arg, const struct ac__json_member *m)
{
    struct members *ms = arg;
    int f = field_of(m);
    if (f >= 0) {
        ms->field[f] = *m;
        ms->seen[f] = true;
    } else if (!ms->has_unknown) {
        ms->unknown = *m;
        ms->has_unknown = true;
    }
}

static int invalid(const char **code, char *msg, size_t cap, const char *fmt, const char *field)
{
    *code = "invalid_request";
    snprintf(msg, cap, fmt, field);
    return -EINVAL;
}

static int unknown_field(const struct ac__json_member *m, const char **code, char *msg, size_t cap)
{
    char *key = malloc(m->key.len + 1); /* an error path: the key may be long */
    int err;
    if (!key)
        return invalid(code, msg, cap, "%s", "unknown field");
    key[ac__json_unescape(m->key.p, m->key.len, key)] = '\0';
    err = invalid(code, msg, cap, "unknown field \"%.64s\"", key);
    free(key);
    return err;
}

/* The member of field f when present and not null. */
static const struct ac__json_member *given(const struct members *ms, enum field f)
{
    return ms->seen[f] && ms->field[f].kind != AC__JSON_NULL ? &ms->field[f] : NULL;
}

/* session_id, user_id: optional non-empty strings of at most 256 bytes. */
static int id_field(const struct members *ms, enum field f, char *out, uint16_t *len, bool *has,
                    const char **code, char *msg, size_t cap)
{
    const struct ac__json_member *m = given(ms, f);
    *has = false;
    *len = 0;
    if (!m)
        return 0;
    /* the raw text is at most 6 bytes per unescaped byte */
    size_t raw = m->value.len - 2, n = 0;
    if (m->kind == AC__JSON_STRING && raw <= 6 * AC__AGENT_MAX_ID) {
        char buf[6 * AC__AGENT_MAX_ID];
        n = ac__json_unescape(m->value.p + 1, raw, buf);
        if (n > 0 && n <= AC__AGENT_MAX_ID) {
            memcpy(out, buf, n);
            out[n] = '\0';
            *len = (uint16_t)n;
            *has = true;
            return 0;
        }
    }
    return invalid(code, msg, cap, "%s must be a non-empty string of at most 256 bytes", names[f]);
}

static int check_tools(const struct ac__json_member *m, const char **code, char *msg, size_t cap)
{
    const char *p = m->value.p;
    size_t n = m->value.len, i = 1, idx = 0;
    if (m->kind != AC__JSON_ARRAY)
        return invalid(code, msg, cap, "%s must be an array of strings", "tools");
    for (;;) {
        while (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == ',')
            i++;
        if (p[i] == ']')
            return 0;
        if (p[i] != '"') {
            char field[32];
            snprintf(field, sizeof field, "tools[%zu]", idx);
            return invalid(code, msg, cap, "%s must be a string", field);
        }
        AC_ASSERT(ac__json_skip(p, n, &i));
        idx++;
    }
}

static int check_fields(const struct members *ms, struct ac__envelope *r, const char **code,
                        char *msg, size_t cap)
{
    const struct ac__json_member *m;
    if (ms->has_unknown)
        return unknown_field(&ms->unknown, code, msg, cap);
    if (id_field(ms, F_SESSION, r->ids, &r->session_len, &r->has_session, code, msg, cap) ||
        id_field(ms, F_USER, r->ids + AC__AGENT_MAX_ID + 1, &r->user_len, &r->has_user, code, msg,
                 cap))
        return -EINVAL;
    if (!ms->seen[F_INPUT])
        return invalid(code, msg, cap, "%s is required", "input");
    r->input = ms->field[F_INPUT].value;
    if ((m = given(ms, F_CONTEXT))) {
        if (m->kind != AC__JSON_OBJECT)
            return invalid(code, msg, cap, "%s must be an object", "context");
        r->context = m->value;
    }
    if ((m = given(ms, F_TOOLS))) {
        if (check_tools(m, code, msg, cap))
            return -EINVAL;
        r->tools = m->value;
    }
    if ((m = given(ms, F_TEMPERATURE))) {
        bool over;
        double t = m->kind == AC__JSON_INT || m->kind == AC__JSON_REAL
                       ? ac__json_strtod(m->value.p, m->value.len, &over)
                       : -1;
        if (!(t >= 0 && t <= 2))
            return invalid(code, msg, cap, "%s must be a number from 0 to 2", "temperature");
        r->temperature = t;
        r->has_temperature = true;
    }
    if ((m = given(ms, F_MAX_TOKENS))) {
        /* strtoll stops at the delimiter that follows every member's value
         * (the top-level object closes after it); integers fit int64_t */
        long long v = m->kind == AC__JSON_INT ? strtoll(m->value.p, NULL, 10) : 0;
        if (v < 1 || v > 1000000)
            return invalid(code, msg, cap, "%s must be an integer from 1 to 1000000", "max_tokens");
        r->max_tokens = v;
    }
    if ((m = given(ms, F_STREAM))) {
        if (m->kind != AC__JSON_TRUE && m->kind != AC__JSON_FALSE)
            return invalid(code, msg, cap, "%s must be true or false", "stream");
        r->stream = m->kind == AC__JSON_TRUE;
    }
    return 0;
}

int ac__agent_request_scan(const char *body, size_t len, struct ac__envelope *out,
                           const char **code, char *msg, size_t msgcap)
{
    struct members ms;
    struct ac__json_result res;
    int line, column;
    memset(out, 0, offsetof(struct ac__envelope, ids));
    out->ids[0] = out->ids[AC__AGENT_MAX_ID + 1] = '\0';
    if (len == 0) {
        *code = "invalid_json";
        snprintf(msg, msgcap, "empty body: expected a JSON object");
        return -EINVAL;
    }
    ms.has_unknown = false;
    memset(ms.seen, 0, sizeof ms.seen);
    if (ac__json_scan(body, len, on_member, &ms, &res)) {
        ac__json_position(body, res.offset, &line, &column);
        *code = "invalid_json";
        snprintf(msg, msgcap, "invalid JSON at line %d, column %d: %s", line, column, res.error);
        return -EINVAL;
    }
    if (res.kind == AC__JSON_ARRAY)
        return invalid(code, msg, msgcap, "%s", "the body must be a JSON object");
    if (res.kind != AC__JSON_OBJECT) { /* jansson wants '[' or '{' first */
        *code = "invalid_json";
        snprintf(msg, msgcap, "invalid JSON at line 1, column 1: '[' or '{' expected");
        return -EINVAL;
    }
    if (check_fields(&ms, out, code, msg, msgcap)) {
        memset(out, 0, offsetof(struct ac__envelope, ids));
        return -EINVAL;
    }
    return 0;
}

const char *ac__envelope_session(const struct ac__envelope *env)
{
    return env->has_session ? env->ids : NULL;
}

const char *ac__envelope_user(const struct ac__envelope *env)
{
    return env->has_user ? env->ids + AC__AGENT_MAX_ID + 1 : NULL;
}

void ac__envelope_rebase(struct ac__envelope *env, const char *from, const char *to)
{
    env->input = ac__span_move(env->input, from, to);
    env->context = ac__span_move(env->context, from, to);
    env->tools = ac__span_move(env->tools, from, to);
}
