/*
 * Replies: hiredis' reader (the RESP parser, Debian's libhiredis) builds
 * struct ac_resp_reply objects through its function table. A string and
 * its header are one allocation; an array's element vector is a second.
 * Objects come from the shard's heap (ac_alloc) and are freed on it.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <string.h>

static struct ac_resp_reply *reply_new(const redisReadTask *task, enum ac_resp_type type,
                                       size_t extra)
{
    struct ac_resp_reply *r = ac_calloc(1, sizeof *r + extra);
    if (!r)
        return NULL;
    r->type = type;
    if (task->parent) {
        struct ac_resp_reply *parent = task->parent->obj;
        AC_ASSERT(parent->type == AC_RESP_ARRAY && (size_t)task->idx < parent->elements);
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    enum ac_resp_type type = task->type == REDIS_REPLY_ERROR    ? AC_RESP_ERROR
                             : task->type == REDIS_REPLY_STATUS ? AC_RESP_STATUS
                                                                : AC_RESP_STRING;
    struct ac_resp_reply *r = reply_new(task, type, len + 1);
    if (!r)
        return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    struct ac_resp_reply *r = reply_new(task, AC_RESP_ARRAY, 0);
    if (!r)
        return NULL;
    if (elements > 0) {
        r->element = ac_calloc((size_t)elements, sizeof *r->element);
        if (!r->element) {
            /* a parent already points at r and the reader frees its tree */
            if (!task->parent)
                ac_free(r);
            return NULL;
        }
    }
    r->elements = (size_t)elements;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    struct ac_resp_reply *r = reply_new(task, AC_RESP_INTEGER, 0);
    if (r)
        r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return reply_new(task, AC_RESP_NIL, 0);
}

void ac__resp_reply_free(void *reply)
{
    struct ac_resp_reply *r = reply;
    if (!r)
        return;
    if (r->type == AC_RESP_ARRAY && r->element) {
        for (size_t i = 0; i < r->elements; i++)
            ac__resp_reply_free(r->element[i]);
        ac_free(r->element);
    }
    ac_free(r);
}

static redisReplyObjectFunctions reply_fns = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
    .createNil = create_nil,
    .freeObject = ac__resp_reply_free,
};

redisReader *ac__resp_reader_create(void)
{
    return redisReaderCreateWithFunctions(&reply_fns);
}

bool ac_resp_reply_is_error(const struct ac_resp_reply *r, const char *prefix)
{
    return r && r->type == AC_RESP_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}
