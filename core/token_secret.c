/*
 * Bearer token secrets: drawing, spelling, recognising and hashing them.
 *
 * A token is "coop_" + 32 random bytes in unpadded base64url (RFC 4648 §5):
 * 256 bits from OpenSSL's CSPRNG, so that guessing one is hopeless and the
 * database can keep only a fast hash (SHA-256) instead of a slow password hash.
 * The prefix lets secret scanners and people recognise a leaked token.
 *
 * The digest runs on every request that misses the token cache, and on every
 * cache lookup, so it reuses one fetched SHA-256 implementation and one digest
 * context instead of looking the algorithm up each time (OpenSSL 3's one-shot
 * SHA256() fetches it per call). coopd runs one loop thread, so one context is
 * enough; the blocking start-up command runs before the loop exists.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "identity_internal.h"

static const char base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void token_encode(const uint8_t raw[TOKEN_RANDOM_BYTES], char out[TOKEN_TEXT_LEN + 1])
{
    memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    char *o = out + TOKEN_PREFIX_LEN;
    size_t i = 0;
    for (; i + 3 <= TOKEN_RANDOM_BYTES; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        *o++ = base64url_alphabet[v >> 18 & 63];
        *o++ = base64url_alphabet[v >> 12 & 63];
        *o++ = base64url_alphabet[v >> 6 & 63];
        *o++ = base64url_alphabet[v & 63];
    }
    /* 32 = 10 * 3 + 2: two bytes remain, spelled in three characters. */
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8;
    *o++ = base64url_alphabet[v >> 18 & 63];
    *o++ = base64url_alphabet[v >> 12 & 63];
    *o++ = base64url_alphabet[v >> 6 & 63];
    *o = '\0';
}

int token_generate(char out[TOKEN_TEXT_LEN + 1])
{
    uint8_t raw[TOKEN_RANDOM_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        out[0] = '\0';
        return -1;
    }
    token_encode(raw, out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

/* 1 for the 64 characters of base64url: one load per character instead of
 * five comparisons. */
static const unsigned char base64url_char[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['_'] = 1,
};

bool token_shaped(const char *text, size_t len)
{
    return text && len == TOKEN_TEXT_LEN && memcmp(text, TOKEN_PREFIX, TOKEN_PREFIX_LEN) == 0;
}

bool token_well_formed(const char *text, size_t len)
{
    if (!token_shaped(text, len))
        return false;
    unsigned char all = 1;
    for (size_t i = TOKEN_PREFIX_LEN; i < len; i++)
        all &= base64url_char[(unsigned char)text[i]];
    return all;
}

static EVP_MD *sha256_md;
static EVP_MD_CTX *sha256_ctx;

/* Fetched on first use and kept for the life of the process: two small objects
 * that every later digest reuses. */
static int digest_ready(void)
{
    if (sha256_ctx)
        return 0;
    if (!sha256_md)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        return -1;
    sha256_ctx = EVP_MD_CTX_new();
    if (sha256_ctx && EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) != 1) {
        EVP_MD_CTX_free(sha256_ctx);
        sha256_ctx = NULL;
    }
    return sha256_ctx ? 0 : -1;
}

int token_digest(const char *text, size_t len, uint8_t digest[TOKEN_DIGEST_LEN])
{
    unsigned int n = 0;
    /* A NULL type re-initialises the context for the digest it already has, which
     * skips the algorithm lookup EVP_DigestInit_ex2 would repeat. */
    if (digest_ready() != 0 || EVP_DigestInit_ex(sha256_ctx, NULL, NULL) != 1 ||
        EVP_DigestUpdate(sha256_ctx, text, len) != 1 ||
        EVP_DigestFinal_ex(sha256_ctx, digest, &n) != 1 || n != TOKEN_DIGEST_LEN)
        return -1;
    return 0;
}

void token_digest_hex(const uint8_t digest[TOKEN_DIGEST_LEN], char out[TOKEN_DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < TOKEN_DIGEST_LEN; i++) {
        out[2 + 2 * i] = hex[digest[i] >> 4];
        out[3 + 2 * i] = hex[digest[i] & 15];
    }
    out[TOKEN_DIGEST_HEX_LEN] = '\0';
}
