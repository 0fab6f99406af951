/*
 * Commands as RESP arrays of bulk strings ("*N\r\n$len\r\nbytes\r\n...").
 * Encoded straight into the request's own buffer: one allocation and one
 * queued write per command, whatever the argument count.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static size_t arg_len(const char *const *argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

size_t ac__resp_arg_len(size_t len)
{
    return 1 + digits(len) + 2 + len + 2;
}

size_t ac__resp_encoded_len(int argc, const char *const *argv, const size_t *lens)
{
    size_t n = 1 + digits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++)
        n += ac__resp_arg_len(arg_len(argv, lens, i));
    return n;
}

static char *put_num(char *out, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *out++ = tmp[--n];
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

char *ac__resp_encode_arg(char *out, const char *arg, size_t len)
{
    *out++ = '$';
    out = put_num(out, len);
    memcpy(out, arg, len);
    out += len;
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

char *ac__resp_encode(char *out, int argc, const char *const *argv, const size_t *lens)
{
    *out++ = '*';
    out = put_num(out, (size_t)argc);
    for (int i = 0; i < argc; i++)
        out = ac__resp_encode_arg(out, argv[i], arg_len(argv, lens, i));
    return out;
}
