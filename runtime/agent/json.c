/*
 * A validating JSON scan without a tree: one pass over the text, no
 * allocation for documents with at most INLINE_KEYS open object keys,
 * nothing copied.
 *
 * It accepts exactly what jansson's json_loadb(JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES) accepts, so that moving the AgentRequest off
 * jansson changes no 400: RFC 8259's grammar, plus jansson's own limits —
 * integers (no '.', 'e' or 'E') must fit int64_t, reals must not overflow
 * a double, "\u0000" is refused, at most 2048 nested values, duplicate
 * keys (compared after unescaping) are invalid at every level. Strings
 * must be valid UTF-8 without surrogates, escapes included (a lone
 * surrogate escape is refused). tests/runtime/agent/test_json.c and the
 * fuzz_agent_request harness check this against jansson itself.
 *
 * Containers are an explicit stack (no recursion: 2048 levels deep is a
 * valid document). Keys of the open objects sit on a key stack with a
 * hash of their unescaped bytes; an object checks its own keys when it
 * closes (pairwise when small, sorted by hash when large: O(n log n)).
 */
#include "internal.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH   2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define INLINE_KEYS 64
#define PAIRWISE    16 /* objects with more keys sort by hash */

struct key {
    uint64_t hash;
    uint32_t off, len; /* the key's raw bytes between the quotes */
    bool escaped;
};

struct frame {
    uint32_t start;      /* offset of '{' or '[' */
    uint32_t keys_start; /* first key of this object on the key stack */
    bool object;
};

struct scan {
    const char *p;
    size_t n, i;
    const char *err;
    size_t err_at;
    struct key *keys;
    size_t nkeys, cap;
    struct key inline_keys[INLINE_KEYS];
};

/* Bytes a string may hold as they are: not '"', '\\', < 0x20 or >= 0x80. */
static const bool plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void fail(struct scan *s, const char *why)
{
    if (!s->err) {
        s->err = why;
        s->err_at = s->i;
    }
}

static void skip_ws(struct scan *s)
{
    while (s->i < s->n) {
        char c = s->p[s->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        s->i++;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at p (n bytes available), or -1. */
static int32_t hex4(const char *p, size_t n)
{
    int32_t v = 0;
    if (n < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Bytes of one valid UTF-8 sequence at p (n available), or 0 (jansson's rules). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char u = p[0];
    size_t len;
    uint32_t v;
    if (u >= 0xC2 && u <= 0xDF)
        len = 2, v = u & 0x1F;
    else if (u >= 0xE0 && u <= 0xEF)
        len = 3, v = u & 0x0F;
    else if (u >= 0xF0 && u <= 0xF4)
        len = 4, v = u & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
        v = v << 6 | (p[k] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (len == 3 && v < 0x800) ||
        (len == 4 && v < 0x10000))
        return 0;
    return len;
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)p[k]) * FNV_PRIME;
    return h;
}

/*
 * The escape at p (on the backslash; n bytes available): its unescaped
 * bytes in out (*olen of them). Returns the bytes it takes (2, 6 or 12:
 * a surrogate pair is one escape here), or 0 and *why.
 */
static size_t escape(const char *p, size_t n, char out[4], size_t *olen, const char **why)
{
    static const char simple[][2] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                     {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};
    int32_t v, lo;
    *olen = 1;
    if (n < 2) {
        *why = "premature end of input in a string";
        return 0;
    }
    for (size_t k = 0; k < AC_ARRAY_LEN(simple); k++)
        if (p[1] == simple[k][0]) {
            out[0] = simple[k][1];
            return 2;
        }
    if (p[1] != 'u') {
        *why = "invalid escape";
        return 0;
    }
    if ((v = hex4(p + 2, n - 2)) < 0) {
        *why = "invalid \\u escape";
        return 0;
    }
    if (v >= 0xDC00 && v <= 0xDFFF) {
        *why = "invalid Unicode: lone low surrogate";
        return 0;
    }
    if (v == 0) {
        *why = "\\u0000 is not allowed";
        return 0;
    }
    if (v < 0xD800 || v > 0xDBFF) {
        *olen = utf8_put((uint32_t)v, out);
        return 6;
    }
    if (n < 8 || p[6] != '\\' || p[7] != 'u') {
        *why = "invalid Unicode: lone high surrogate";
        return 0;
    }
    if ((lo = hex4(p + 8, n - 8)) < 0) {
        *why = "invalid \\u escape";
        return 0;
    }
    if (lo < 0xDC00 || lo > 0xDFFF) {
        *why = "invalid Unicode: high surrogate without low";
        return 0;
    }
    *olen = utf8_put(0x10000 + ((uint32_t)(v - 0xD800) << 10) + (uint32_t)(lo - 0xDC00), out);
    return 12;
}

/*
 * A string at s->i (on the '"'). A key gets the hash of its unescaped
 * bytes. Leaves s->i after the closing quote; false on error.
 */
static bool scan_string(struct scan *s, struct key *k)
{
    const char *p = s->p;
    size_t n = s->n, open = s->i, i = open + 1, run = i;
    uint64_t h = FNV_BASIS;
    bool esc = false;
    for (;;) {
        while (i < n && plain[(unsigned char)p[i]])
            i++;
        if (i >= n) {
            s->i = i;
            fail(s, "premature end of input in a string");
            return false;
        }
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            s->i = i;
            fail(s, "control character in a string");
            return false;
        }
        if (c >= 0x80) {
            size_t len = utf8_len((const unsigned char *)p + i, n - i);
            if (!len) {
                s->i = i;
                fail(s, "invalid UTF-8 in a string");
                return false;
            }
            i += len;
            continue;
        }
        /* a backslash: the decoded bytes go into the hash */
        if (k)
            h = fnv(h, p + run, i - run);
        esc = true;
        char out[4];
        size_t olen;
        const char *why;
        size_t used = escape(p + i, n - i, out, &olen, &why);
        if (!used) {
            s->i = i;
            fail(s, why);
            return false;
        }
        if (k)
            h = fnv(h, out, olen);
        i += used;
        run = i;
    }
    if (k) {
        k->hash = fnv(h, p + run, i - run);
        k->off = (uint32_t)(open + 1);
        k->len = (uint32_t)(i - open - 1);
        k->escaped = esc;
    }
    s->i = i + 1;
    return true;
}

size_t ac__json_unescape(const char *raw, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (raw[i] != '\\') {
            out[o++] = raw[i++];
            continue;
        }
        size_t olen;
        const char *why;
        size_t used = escape(raw + i, len - i, out + o, &olen, &why);
        AC_ASSERT(used); /* validated text */
        o += olen;
        i += used;
    }
    return o;
}

/* True when the overflow check needs strtod: could the real reach 1e308? */
static bool real_may_overflow(size_t int_digits, const char *exp, size_t explen)
{
    long e = 0;
    bool neg = false;
    size_t k = 0;
    if (!exp)
        return int_digits > 308;
    if (exp[k] == '+' || exp[k] == '-')
        neg = exp[k++] == '-';
    for (; k < explen && e < 100000; k++)
        e = e * 10 + (exp[k] - '0');
    if (neg)
        e = -e;
    /* the value is below 10^(int_digits + e) */
    return (long)int_digits + e > 308;
}

double ac__json_strtod(const char *p, size_t len, bool *overflow)
{
    char small[64], *buf = len < sizeof small ? small : malloc(len + 1);
    const char *point = localeconv()->decimal_point;
    double v;
    if (!buf) {
        *overflow = false; /* cannot tell: the text is valid RFC 8259 */
        return 0;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    /* strtod reads the locale's decimal point; JSON's is always '.' (as
     * jansson does: a process may have called setlocale) */
    if (point[0] != '.' && point[0] && !point[1]) {
        char *dot = strchr(buf, '.');
        if (dot)
            *dot = point[0];
    }
    errno = 0;
    v = strtod(buf, NULL);
    *overflow = errno == ERANGE && isinf(v);
    if (buf != small)
        free(buf);
    return v;
}

static bool real_overflows(const char *p, size_t len)
{
    bool over;
    ac__json_strtod(p, len, &over);
    return over;
}

/* A number at s->i; sets *real. False on error. */
static bool scan_number(struct scan *s, bool *real)
{
    const char *p = s->p;
    size_t n = s->n, i = s->i, start = i, int_start, int_digits;
    const char *exp = NULL;
    size_t explen = 0;
    if (p[i] == '-')
        i++;
    int_start = i;
    if (i < n && p[i] == '0') {
        i++;
    } else if (i < n && p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    } else {
        s->i = i;
        fail(s, "invalid number");
        return false;
    }
    int_digits = i - int_start;
    *real = false;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || p[i] < '0' || p[i] > '9') {
            s->i = i;
            fail(s, "invalid number: digits expected after '.'");
            return false;
        }
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        *real = true;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        exp = p + i;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || p[i] < '0' || p[i] > '9') {
            s->i = i;
            fail(s, "invalid number: digits expected in the exponent");
            return false;
        }
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        explen = (size_t)(p + i - exp);
        *real = true;
    }
    if (!*real) {
        /* jansson reads integers with strtoll: they must fit int64_t */
        bool neg = int_start > start;
        if (int_digits > 19 ||
            (int_digits == 19 &&
             memcmp(p + int_start, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0)) {
            s->i = start;
            fail(s, neg ? "too big negative integer" : "too big integer");
            return false;
        }
    } else if (real_may_overflow(int_digits, exp, explen) && real_overflows(p + start, i - start)) {
        s->i = start;
        fail(s, "real number overflow");
        return false;
    }
    s->i = i;
    return true;
}

static bool scan_literal(struct scan *s, const char *lit, size_t len)
{
    if (s->n - s->i < len || memcmp(s->p + s->i, lit, len) != 0) {
        fail(s, "invalid literal");
        return false;
    }
    s->i += len;
    return true;
}

static bool push_key(struct scan *s, const struct key *k)
{
    if (s->nkeys == s->cap) {
        size_t cap = s->cap * 2;
        struct key *n =
            s->keys == s->inline_keys ? malloc(cap * sizeof *n) : realloc(s->keys, cap * sizeof *n);
        if (!n) {
            fail(s, "out of memory");
            return false;
        }
        if (s->keys == s->inline_keys)
            memcpy(n, s->inline_keys, sizeof s->inline_keys);
        s->keys = n;
        s->cap = cap;
    }
    s->keys[s->nkeys++] = *k;
    return true;
}

/* Unescaped equality of two keys whose hashes match. */
static bool same_key(const struct scan *s, const struct key *a, const struct key *b)
{
    const char *pa = s->p + a->off, *pb = s->p + b->off;
    if (!a->escaped && !b->escaped)
        return a->len == b->len && memcmp(pa, pb, a->len) == 0;
    char *da = malloc(a->len + 1), *db = malloc(b->len + 1);
    bool same = false;
    if (da && db) {
        size_t la = ac__json_unescape(pa, a->len, da), lb = ac__json_unescape(pb, b->len, db);
        same = la == lb && memcmp(da, db, la) == 0;
    } else {
        same = true; /* out of memory: refuse rather than accept unchecked */
    }
    free(da);
    free(db);
    return same;
}

static int by_hash(const void *a, const void *b)
{
    uint64_t x = ((const struct key *)a)->hash, y = ((const struct key *)b)->hash;
    return x < y ? -1 : x > y;
}

/* Checks the keys of the object that just closed; pops them. */
static bool check_keys(struct scan *s, size_t first)
{
    struct key *k = s->keys + first;
    size_t n = s->nkeys - first;
    bool dup = false;
    if (n <= PAIRWISE) {
        for (size_t a = 1; a < n && !dup; a++)
            for (size_t b = 0; b < a && !dup; b++)
                dup = k[a].hash == k[b].hash && same_key(s, &k[a], &k[b]);
    } else {
        qsort(k, n, sizeof *k, by_hash);
        for (size_t a = 1; a < n && !dup; a++)
            for (size_t b = a; b-- > 0 && k[b].hash == k[a].hash && !dup;)
                dup = same_key(s, &k[a], &k[b]);
    }
    s->nkeys = first;
    if (dup)
        fail(s, "duplicate object key");
    return !dup;
}

int ac__json_scan(const char *p, size_t n, ac__json_member_fn on_member, void *arg,
                  struct ac__json_result *res)
{
    struct frame stack[MAX_DEPTH];
    unsigned depth = 0;
    struct scan s; /* not zeroed whole: inline_keys is scratch */
    enum ac__json_kind kind = AC__JSON_NULL;
    size_t vstart = 0;
    s.p = p;
    s.n = n;
    s.i = 0;
    s.err = NULL;
    s.err_at = 0;
    s.nkeys = 0;
    s.cap = INLINE_KEYS;
    s.keys = s.inline_keys;
    memset(res, 0, sizeof *res);
    if (n > UINT32_MAX) {
        fail(&s, "document too large");
        goto out;
    }
    skip_ws(&s);

value:
    if (depth + 1 > MAX_DEPTH) {
        fail(&s, "maximum parsing depth reached");
        goto out;
    }
    if (s.i >= n) {
        fail(&s, "premature end of input");
        goto out;
    }
    vstart = s.i;
    switch (p[s.i]) {
    case '{':
        stack[depth++] = (struct frame){(uint32_t)s.i, (uint32_t)s.nkeys, true};
        s.i++;
        skip_ws(&s);
        if (s.i < n && p[s.i] == '}') {
            s.i++;
            depth--;
            kind = AC__JSON_OBJECT;
            goto after_value;
        }
        goto key;
    case '[':
        stack[depth++] = (struct frame){(uint32_t)s.i, 0, false};
        s.i++;
        skip_ws(&s);
        if (s.i < n && p[s.i] == ']') {
            s.i++;
            depth--;
            kind = AC__JSON_ARRAY;
            goto after_value;
        }
        goto value;
    case '"':
        if (!scan_string(&s, NULL))
            goto out;
        kind = AC__JSON_STRING;
        break;
    case 't':
        if (!scan_literal(&s, "true", 4))
            goto out;
        kind = AC__JSON_TRUE;
        break;
    case 'f':
        if (!scan_literal(&s, "false", 5))
            goto out;
        kind = AC__JSON_FALSE;
        break;
    case 'n':
        if (!scan_literal(&s, "null", 4))
            goto out;
        kind = AC__JSON_NULL;
        break;
    default: {
        bool real;
        char c = p[s.i];
        if (c != '-' && (c < '0' || c > '9')) {
            fail(&s, "unexpected character");
            goto out;
        }
        if (!scan_number(&s, &real))
            goto out;
        kind = real ? AC__JSON_REAL : AC__JSON_INT;
        break;
    }
    }

after_value:
    /* a whole value ended at s.i: it started at vstart and has `kind` */
    if (depth == 1 && stack[0].object && on_member) {
        const struct key *k = &s.keys[s.nkeys - 1];
        struct ac__json_member m = {.key = {p + k->off, k->len},
                                    .key_escaped = k->escaped,
                                    .kind = kind,
                                    .value = {p + vstart, s.i - vstart}};
        on_member(arg, &m);
    }
    if (depth == 0) {
        skip_ws(&s);
        if (s.i != n)
            fail(&s, "end of file expected");
        res->kind = kind;
        goto out;
    }
    skip_ws(&s);
    if (s.i >= n) {
        fail(&s, "premature end of input");
        goto out;
    }
    if (stack[depth - 1].object) {
        if (p[s.i] == ',') {
            s.i++;
            skip_ws(&s);
            goto key;
        }
        if (p[s.i] != '}') {
            fail(&s, "',' or '}' expected");
            goto out;
        }
        s.i++;
        depth--;
        if (!check_keys(&s, stack[depth].keys_start)) {
            s.i = stack[depth].start;
            s.err_at = s.i;
            goto out;
        }
        vstart = stack[depth].start;
        kind = AC__JSON_OBJECT;
        goto after_value;
    }
    if (p[s.i] == ',') {
        s.i++;
        skip_ws(&s);
        goto value;
    }
    if (p[s.i] != ']') {
        fail(&s, "',' or ']' expected");
        goto out;
    }
    s.i++;
    depth--;
    vstart = stack[depth].start;
    kind = AC__JSON_ARRAY;
    goto after_value;

key:
    if (s.i >= n || p[s.i] != '"') {
        fail(&s, s.i >= n ? "premature end of input" : "string expected as object key");
        goto out;
    }
    {
        struct key k;
        if (!scan_string(&s, &k) || !push_key(&s, &k))
            goto out;
    }
    skip_ws(&s);
    if (s.i >= n || p[s.i] != ':') {
        fail(&s, "':' expected");
        goto out;
    }
    s.i++;
    skip_ws(&s);
    goto value;

out:
    if (s.keys != s.inline_keys)
        free(s.keys);
    if (!s.err)
        return 0;
    res->error = s.err;
    res->offset = s.err_at;
    return -EINVAL;
}

void ac__json_position(const char *p, size_t offset, int *line, int *column)
{
    const char *nl = NULL;
    *line = 1;
    for (size_t k = 0; k < offset; k++)
        if (p[k] == '\n') {
            (*line)++;
            nl = p + k;
        }
    *column = (int)(p + offset - (nl ? nl + 1 : p)) + 1;
}

bool ac__json_skip(const char *p, size_t n, size_t *i)
{
    /* On validated text: the end of the value starting at *i. */
    unsigned open = 0;
    size_t k = *i;
    do {
        if (k >= n)
            return false;
        char c = p[k];
        if (c == '"') {
            for (k++; k < n && p[k] != '"'; k++)
                if (p[k] == '\\')
                    k++;
            k++;
        } else if (c == '{' || c == '[') {
            open++, k++;
        } else if (c == '}' || c == ']') {
            open--, k++;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            k++;
        } else {
            while (k < n && p[k] != ',' && p[k] != '}' && p[k] != ']' && p[k] != ' ' &&
                   p[k] != '\t' && p[k] != '\n' && p[k] != '\r')
                k++;
        }
    } while (open > 0);
    *i = k;
    return true;
}
