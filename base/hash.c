/*
 * The project's one non-cryptographic hash (see base.h): FNV-1a over the
 * bytes for speed on short ids, then MurmurHash3's fmix64 so that every
 * input bit reaches every output bit (FNV-1a alone leaves the low bits
 * weak for `% n`, and placement compares whole 64-bit scores).
 */
#include "agentcore/base.h"

uint64_t ac_hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t ac_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull; /* FNV prime */
    }
    return ac_hash_mix64(h);
}
