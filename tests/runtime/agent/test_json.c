/*
 * The tree-less JSON scan (runtime/agent/json.c) and the AgentRequest
 * scan against jansson, differentially: every corpus file, deep nesting
 * at jansson's limit, large objects with and without a duplicate key,
 * and seeded random inputs (mutated corpus files and generated
 * documents). Agreement means the same accept/reject, the same 400 code
 * and invalid_request message, and the same fields on success
 * (request_oracle.h).
 */
#include "request_oracle.h"
#include "runtime/helpers.h"

#include <dirent.h>
#include <stdlib.h>
#define RANDOM_INPUTS (40000 / AC_TEST_SCALE)

struct doc {
    char *p;
    size_t len;
};

static struct doc corpus[256];
static size_t ncorpus;

static void load_corpus(void)
{
    DIR *d = opendir(AC_AGENT_CORPUS);
    struct dirent *e;
    cr_assert_not_null(d, "corpus %s", AC_AGENT_CORPUS);
    while ((e = readdir(d)) && ncorpus < AC_ARRAY_LEN(corpus)) {
        char path[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", AC_AGENT_CORPUS, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f);
        struct doc *c = &corpus[ncorpus++];
        c->p = malloc(65536);
        c->len = fread(c->p, 1, 65536, f);
        fclose(f);
    }
    closedir(d);
    cr_assert_gt(ncorpus, 50);
}

static void free_corpus(void)
{
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].p);
    ncorpus = 0;
}

TestSuite(runtime_agent_json, .init = load_corpus, .fini = free_corpus);

/* The raw scan against json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES). */
static bool scan_agrees(const char *p, size_t len)
{
    struct ac__json_result res;
    json_t *j = memchr(p, 0, len)
                    ? NULL /* see request_oracle.h */
                    : json_loadb(p, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    bool ok = ac__json_scan(p, len, NULL, NULL, &res) == 0;
    json_decref(j);
    return ok == (j != NULL);
}

static void check(const char *p, size_t len, const char *what)
{
    char why[1024];
    if (getenv("AC_JSON_DUMP") && request_differs(p, len, why, sizeof why)) {
        FILE *f = fopen(getenv("AC_JSON_DUMP"), "wb");
        fwrite(p, 1, len, f);
        fclose(f);
    }
    cr_assert_null(request_differs(p, len, why, sizeof why), "%s: %s [%.*s]", what, why,
                   (int)(len > 200 ? 200 : len), p);
    cr_assert(scan_agrees(p, len), "%s: raw scan disagrees [%.*s]", what,
              (int)(len > 200 ? 200 : len), p);
}

Test(runtime_agent_json, corpus_verdicts_match_jansson)
{
    unsigned ok = 0;
    for (size_t i = 0; i < ncorpus; i++) {
        struct ac__envelope e;
        const char *code;
        char msg[256];
        check(corpus[i].p, corpus[i].len, "corpus");
        ok += ac__agent_request_scan(corpus[i].p, corpus[i].len, &e, &code, msg, sizeof msg) == 0;
    }
    cr_assert_gt(ok, 10, "the corpus has valid requests");
    cr_assert_lt(ok, ncorpus - 30, "and invalid ones");
}

static char *nested(unsigned depth, const char *inner, size_t *len)
{
    size_t n = strlen(inner), total = 2 * depth + n + 16;
    char *p = malloc(total), *w = p;
    w += sprintf(w, "{\"input\":");
    for (unsigned i = 0; i < depth; i++)
        *w++ = '[';
    memcpy(w, inner, n);
    w += n;
    for (unsigned i = 0; i < depth; i++)
        *w++ = ']';
    *w++ = '}';
    *len = (size_t)(w - p);
    return p;
}

Test(runtime_agent_json, nesting_limit_matches_jansson)
{
    static const char *const inner[] = {"", "1", "{}", "{\"a\":1}"};
    for (unsigned depth = 2040; depth <= 2050; depth++)
        for (size_t k = 0; k < AC_ARRAY_LEN(inner); k++) {
            size_t len;
            char *p = nested(depth, inner[k], &len);
            check(p, len, "nested");
            check(p + 9, len - 10, "nested raw"); /* the input alone */
            free(p);
        }
}

Test(runtime_agent_json, large_objects_find_duplicates_as_jansson)
{
    static char buf[65536];
    for (unsigned keys = 1; keys < 300; keys += 7)
        for (int dup = 0; dup < 3; dup++) {
            size_t n = (size_t)sprintf(buf, "{\"input\":{");
            for (unsigned i = 0; i < keys; i++)
                n += (size_t)sprintf(buf + n, "%s\"k%u\":%u", i ? "," : "", i, i);
            if (dup == 1) /* the first key again, last */
                n += (size_t)sprintf(buf + n, ",\"k0\":0");
            if (dup == 2) /* the middle one again, escaped */
                n += (size_t)sprintf(buf + n, ",\"\\u006b%u\":0", keys / 2);
            n += (size_t)sprintf(buf + n, "}}");
            check(buf, n, "large object");
        }
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(next() % n);
}

static const char *const atoms[] = {
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "2",
    "2.0",
    "1e2",
    "1E-2",
    "-1.5e+3",
    "1e309",
    "-1e309",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "1e-400",
    "true",
    "false",
    "null",
    "\"\"",
    "\"s\"",
    "\"\\u0000\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\u00e9\\n\\t\\\"\\\\\\/\"",
    "\"\xc3\xa9\"",
    "\"\xc3\"",
    "\"\xed\xa0\x80\"",
    "\"a\tb\"",
    "01",
    "1.",
    ".5",
    "+1",
    "tru",
    "[]",
    "{}",
    "[,]",
    "{,}",
    "\"\\x\"",
};
static const char *const keys[] = {
    "input",       "session_id", "user_id", "context",     "tools",
    "temperature", "max_tokens", "stream",  "\\u0069nput", "a",
    "b",           "max_token",  "",        "\\u0000",     "k\\u00e9",
};

/* A random document: mostly valid JSON, some broken atoms. */
static void gen(char *buf, size_t cap, size_t *n, unsigned depth)
{
    unsigned r = pick(depth > 4 ? 2 : 4);
    if (*n + 64 > cap)
        r = 0;
    if (r < 2) {
        *n += (size_t)snprintf(buf + *n, cap - *n, "%s", atoms[pick(AC_ARRAY_LEN(atoms))]);
    } else if (r == 2) {
        unsigned k = pick(5);
        buf[(*n)++] = '[';
        for (unsigned i = 0; i < k && *n + 64 < cap; i++) {
            if (i)
                buf[(*n)++] = ',';
            gen(buf, cap, n, depth + 1);
        }
        buf[(*n)++] = ']';
    } else {
        unsigned k = pick(5);
        buf[(*n)++] = '{';
        for (unsigned i = 0; i < k && *n + 64 < cap; i++) {
            *n += (size_t)snprintf(buf + *n, cap - *n, "%s\"%s\"%s", i ? "," : "",
                                   keys[pick(AC_ARRAY_LEN(keys))], pick(8) ? ":" : " : ");
            gen(buf, cap, n, depth + 1);
        }
        buf[(*n)++] = '}';
    }
}

static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char interesting[] = "{}[]\",:\\ \t\n0-1.eE+tnfu\x00\x7f\x80\xc3\xff";
    unsigned rounds = 1 + pick(3);
    for (unsigned k = 0; k < rounds && len > 0; k++) {
        size_t at = pick((unsigned)len);
        switch (pick(4)) {
        case 0: /* replace */
            buf[at] = interesting[pick(sizeof interesting - 1)];
            break;
        case 1: /* insert */
            if (len < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = interesting[pick(sizeof interesting - 1)];
                len++;
            }
            break;
        case 2: /* delete */
            memmove(buf + at, buf + at + 1, len - at - 1);
            len--;
            break;
        default: /* truncate */
            len = at;
            break;
        }
    }
    return len;
}

Test(runtime_agent_json, seeded_random_inputs_match_jansson)
{
    static char buf[8192];
    unsigned accepted = 0;
    for (unsigned i = 0; i < RANDOM_INPUTS; i++) {
        size_t n = 0;
        if (i % 2) {
            const struct doc *d = &corpus[pick((unsigned)ncorpus)];
            n = d->len < sizeof buf ? d->len : sizeof buf;
            memcpy(buf, d->p, n);
            n = mutate(buf, n, sizeof buf);
        } else {
            n = (size_t)sprintf(buf, "{\"input\":");
            gen(buf, sizeof buf - 128, &n, 0);
            if (pick(2))
                n += (size_t)sprintf(buf + n, ",\"%s\":", keys[pick(AC_ARRAY_LEN(keys))]),
                    gen(buf, sizeof buf - 2, &n, 1);
            buf[n++] = '}';
        }
        struct ac__envelope e;
        const char *code;
        char msg[256];
        check(buf, n, "random");
        accepted += ac__agent_request_scan(buf, n, &e, &code, msg, sizeof msg) == 0;
    }
    cr_log_info("%u of %u random inputs were valid requests", accepted, RANDOM_INPUTS);
    cr_assert_gt(accepted, RANDOM_INPUTS / 20, "the generator reaches valid requests");
}
