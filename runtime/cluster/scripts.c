/*
 * The Lua scripts the locks run on Redis. Each is atomic on its node, so
 * a check and the write it guards cannot be separated by another client.
 * Locks: KEYS[1] is the lock key, KEYS[2] its fence counter; ARGV[1] the token.
 */
#include "internal.h"

const char *const ac__dlock_lua[SCRIPT_COUNT] = {
    /* one node: the grant and its fencing token in one step */
    [SCRIPT_ACQ_ONE] = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
                       "  return redis.call('INCR', KEYS[2])\n"
                       "end\n"
                       "return 0\n",
    /* Redlock phase 1: the grant and this node's highest fence so far (-1: held) */
    [SCRIPT_ACQ_QUORUM] = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
                          "  return tonumber(redis.call('GET', KEYS[2]) or '0')\n"
                          "end\n"
                          "return -1\n",
    /* Redlock phase 2: raise the stored fence; 1 only if the lock is still ours,
     * so a store counted for the quorum precedes any later grant here */
    [SCRIPT_FENCE] = "local f = tonumber(ARGV[2])\n"
                     "if tonumber(redis.call('GET', KEYS[2]) or '0') < f then\n"
                     "  redis.call('SET', KEYS[2], ARGV[2])\n"
                     "end\n"
                     "if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end\n"
                     "return 0\n",
    [SCRIPT_RENEW] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                     "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                     "end\n"
                     "return 0\n",
    [SCRIPT_RELEASE] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                       "  return redis.call('DEL', KEYS[1])\n"
                       "end\n"
                       "return 0\n",
    /* the guarded resource: a write is refused when its fence is older than
     * the newest one seen for that key (KEYS[2]) */
    [SCRIPT_FENCED_SET] = "local f = tonumber(ARGV[2])\n"
                          "if f < tonumber(redis.call('GET', KEYS[2]) or '0') then return 0 end\n"
                          "redis.call('SET', KEYS[2], ARGV[2])\n"
                          "redis.call('SET', KEYS[1], ARGV[1])\n"
                          "return 1\n",
};
