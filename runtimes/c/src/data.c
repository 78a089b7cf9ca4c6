/*
 * SPEC section 3 and section 5 step 7: initializer data. Decimal arrays,
 * base64 (RFC 4648) of little-endian float32 or int32, finiteness (float32),
 * integer range (int32), CRC-32 checksums.
 * Also the format checks of data_b64 and checksum strings (schema step) and
 * the base64 decoder the CLI uses for inputs files.
 */
#include <string.h>

#include "loader.h"

const char *const ld_init_keys[] = {"name", "dtype", "shape", "data", "data_b64", "checksum", NULL};

/* ---- base64 ---- */
/* Next code point of the JSON string body at *pi: plain ASCII bytes directly
 * (base64 text is all ASCII), escapes and the rest through tj_cp. */
static int32_t string_cp(const char *s, size_t *pi)
{
    unsigned char c = (unsigned char)s[*pi];
    if (c != '\\' && c != '"' && c < 0x80) {
        (*pi)++;
        return c;
    }
    return tj_cp(s, pi);
}

/* Base64 value of each ASCII byte, -1 for the rest; built on the caller's
 * stack (no global state), a lookup instead of a chain of range tests. */
static void b64_table(signed char t[128])
{
    int i;
    for (i = 0; i < 128; i++)
        t[i] = -1;
    for (i = 0; i < 26; i++) {
        t['A' + i] = (signed char)i;
        t['a' + i] = (signed char)(26 + i);
    }
    for (i = 0; i < 10; i++)
        t['0' + i] = (signed char)(52 + i);
    t['+'] = 62;
    t['/'] = 63;
}

#define B64VAL(t, c) ((c) >= 0 && (c) < 128 ? (t)[c] : -1)

/* The string at `at` holds only base64 characters, then at most two '='. */
int ld_b64_chars_ok(const char *s, size_t at)
{
    size_t p, pads = 0;
    int32_t c;
    signed char val[128];
    b64_table(val);
    for (p = at + 1; (c = string_cp(s, &p)) >= 0;) {
        int ok = B64VAL(val, c) >= 0;
        if (c == '=')
            pads++;
        else if (!ok || pads)
            return 0;
    }
    return pads <= 2;
}

size_t tsr_b64_decode(const char *s, size_t at, unsigned char *out, size_t cap)
{
    size_t p = at + 1, o = 0, pads = 0;
    int32_t c, q[4];
    int nq = 0;
    signed char val[128];
    b64_table(val);
    while ((c = string_cp(s, &p)) >= 0) {
        if (c == '=') {
            pads++;
            q[nq++] = 0;
        } else {
            if (pads || B64VAL(val, c) < 0)
                return (size_t)-1;
            q[nq++] = val[c];
        }
        if (nq == 4) {
            unsigned char b[3];
            size_t nb = 3 - pads, j;
            uint32_t w = ((uint32_t)q[0] << 18) | ((uint32_t)q[1] << 12) | ((uint32_t)q[2] << 6) | (uint32_t)q[3];
            if (pads > 2)
                return (size_t)-1; /* unused trailing bits are ignored (SPEC 3) */
            b[0] = (unsigned char)(w >> 16);
            b[1] = (unsigned char)(w >> 8);
            b[2] = (unsigned char)w;
            for (j = 0; j < nb; j++) {
                if (o >= cap)
                    return (size_t)-1;
                if (out)
                    out[o] = b[j];
                o++;
            }
            nq = 0;
        } else if (pads) {
            /* padding only in the last quantum: checked when it completes */
        }
    }
    if (nq != 0 || o != cap)
        return (size_t)-1;
    return o;
}

/* ---- CRC-32 ---- */
/* The checksum string at `at` is "crc32:" and 8 lowercase hex digits. */
int ld_checksum_ok(const char *s, size_t at)
{
    static const char hex[] = "0123456789abcdef";
    size_t p;
    int32_t c;
    int cnt = 0;
    for (p = at + 1; (c = tj_cp(s, &p)) >= 0; cnt++) {
        if (cnt < 6 ? c != "crc32:"[cnt] : (c == 0 || c > 127 || !strchr(hex, (int)c)))
            return 0;
    }
    return cnt == 14;
}

/* CRC-32 (IEEE, reflected) four bits at a time: a 16-entry table built on
 * the stack by the caller (crc32_table), 4x fewer steps than bit by bit. */
static void crc32_table(uint32_t t[16])
{
    uint32_t i, c;
    int k;
    for (i = 0; i < 16; i++) {
        c = i;
        for (k = 0; k < 4; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        t[i] = c;
    }
}

static uint32_t crc32_update(const uint32_t t[16], uint32_t crc, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        crc = (crc >> 4) ^ t[(crc ^ p[i]) & 15u];
        crc = (crc >> 4) ^ t[(crc ^ ((unsigned)p[i] >> 4)) & 15u];
    }
    return crc;
}

int32_t ld_dtype(const ld *L, size_t at)
{
    return tj_str_eq(L->s, at, "int32") ? TSR_INT32 : TSR_FLOAT32;
}

/* An int32 element written as a decimal: its value (binary64, as every JSON
 * number in the file) must be an integer in [-2^31, 2^31 - 1]. */
static int int32_value(double x, int32_t *out)
{
    if (!(x >= -2147483648.0 && x <= 2147483647.0) || x != (double)(int32_t)x)
        return 0;
    *out = (int32_t)x;
    return 1;
}

/* ---- step 7: one initializer's data into d[0..count) (load mode) ----
 * float32: float elements, finite; int32: int32_t elements. Both are 4
 * bytes, read from base64 as little-endian words and checksummed as such. */
tsr_code ld_load_data(ld *L, size_t v, tsr_value *val, void *dv, uint64_t count)
{
    size_t f[6], data, ck;
    size_t i;
    float *d = (float *)dv;
    int32_t *di = (int32_t *)dv;
    int is_int = val->dtype == TSR_INT32;
    ld_fields(L, v, ld_init_keys, f);
    data = f[3], ck = f[5];
    if (data != TJ_NONE) { /* numbers only (schema step): one scan, parsing as it goes */
        size_t e = tj_ws(L->s, L->n, data + 1), end;
        i = 0;
        while (L->s[e] != ']') {
            double x = tj_num_end(L->s, e, &end);
            if (i < count) {
                if (!is_int)
                    d[i] = (float)x;
                else if (!int32_value(x, &di[i]))
                    return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': element %lu is not an int32 integer",
                                    val->name, (unsigned long)i);
            }
            i++;
            e = tj_ws(L->s, L->n, end);
            if (L->s[e] == ',')
                e = tj_ws(L->s, L->n, e + 1);
        }
        if (i != count)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': data has %lu values, shape needs %lu",
                            val->name, (unsigned long)i, (unsigned long)count);
    } else {
        if (tsr_b64_decode(L->s, f[4], (unsigned char *)dv, (size_t)count * 4) == (size_t)-1)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': data_b64 malformed or not 4 x %lu bytes",
                            val->name, (unsigned long)count);
        for (i = 0; i < count; i++) { /* little-endian bytes -> host words */
            unsigned char *p = (unsigned char *)dv + 4 * i;
            uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
            memcpy(p, &u, 4);
        }
    }
    for (i = 0; !is_int && i < count; i++)
        if (d[i] - d[i] != 0.0f)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': element %lu is not finite",
                            val->name, (unsigned long)i);
    if (ck != TJ_NONE) {
        uint32_t crc = 0xFFFFFFFFu, want = 0, table[16];
        size_t p = ck + 1 + 6;
        int k;
        crc32_table(table);
        for (i = 0; i < count; i++) {
            uint32_t u;
            unsigned char b[4];
            memcpy(&u, (unsigned char *)dv + 4 * i, 4);
            b[0] = (unsigned char)u; b[1] = (unsigned char)(u >> 8);
            b[2] = (unsigned char)(u >> 16); b[3] = (unsigned char)(u >> 24);
            crc = crc32_update(table, crc, b, 4);
        }
        for (k = 0; k < 8; k++) {
            int32_t c = tj_cp(L->s, &p);
            want = want * 16 + (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        if ((crc ^ 0xFFFFFFFFu) != want)
            return tsr_fail(L->err, TSR_E_DATA, "initializer '%s': checksum mismatch", val->name);
    }
    return TSR_OK;
}
