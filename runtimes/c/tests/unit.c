/* Unit tests: parser accept/reject, hostile models (each with its SPEC code),
 * ops against hand-computed values. Run plain and under ASan+UBSan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* TSR_ATTR_MAX_KEYS */
#include "json.h"
#include "kernels.h"
#include "tessera.h"

static int failures, checks;

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

#define CHECK(c, ...)                                                        \
    do {                                                                     \
        checks++;                                                            \
        if (!(c)) {                                                          \
            failures++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

/* "1.(m+1)": a minor newer than this runtime implements. */
static const char *newer_minor(void)
{
    static char v[16];
    snprintf(v, sizeof v, "1.%d", TSR_FORMAT_MINOR + 1);
    return v;
}

static tsr_code parse(const char *s, size_t n)
{
    uint32_t scratch[4096];
    size_t pos;
    return tsr_json_validate(s, n, scratch, 4096, NULL, &pos);
}

static void test_parser(void)
{
    static const char *ok[] = {"{}", "[]", " [1, -0, 0.5e-3, 1E+9, \"a\\u00e9\\ud83d\\ude00\", true, false, null] ",
                               "{\"a\":{\"b\":[{}]}}", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "1e99999", "-0.0",
                               "{\"a\":1,\"b\":1}", "123456789012345678901234567890"};
    static const char *bad[] = {"", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "+1", "1e", "NaN",
                                "Infinity", "[1 2]", "{\"a\" 1}", "\"\\x\"", "\"\\u12g4\"", "\"\\ud800\"",
                                "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
                                "\"\xf4\x90\x80\x80\"", "\"\xff\"", "\xef\xbb\xbf{}", "{}x", "//c\n{}",
                                "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "tru", "[1]]", "{'a':1}"};
    size_t i;
    char *deep;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK(parse(ok[i], strlen(ok[i])) == TSR_OK, "accept %s", ok[i]);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(parse(bad[i], strlen(bad[i])) == TSR_E_PARSE, "reject %s", bad[i]);
    deep = (char *)malloc(200001);
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    CHECK(parse(deep, 200000) == TSR_E_LIMIT, "100000 nested arrays -> E_LIMIT");
    CHECK(parse(deep, 64) == TSR_E_PARSE, "64 open arrays, truncated -> E_PARSE");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    CHECK(parse(deep, 128) == TSR_OK, "depth 64 accepted");
    free(deep);
    {
        /* many keys: duplicate found by the sorting path */
        char buf[20000];
        size_t n = 0;
        int k;
        n += (size_t)sprintf(buf + n, "{");
        for (k = 0; k < 1000; k++)
            n += (size_t)sprintf(buf + n, "%s\"k%d\":0", k ? "," : "", k);
        CHECK(parse(buf, n) != TSR_OK, "unterminated");
        strcpy(buf + n, "}");
        CHECK(parse(buf, n + 1) == TSR_OK, "1000 distinct keys");
        n += (size_t)sprintf(buf + n, ",\"k500\":1}");
        CHECK(parse(buf, n) == TSR_E_PARSE, "duplicate among 1001 keys");
    }
}

/* tj_num / tj_num_end (fast path for short decimals) give strtod's double,
 * bit for bit, and end where strtod stops. */
static void test_numbers(void)
{
    static const char *edge[] = {"0", "-0", "0.000", "-0.0e5", "1e22", "1e23", "1e-22", "1e-23", "0.1",
                                 "123456789012345", "1234567890123456", "9007199254740993", "4.9e-324",
                                 "1e308", "1e309", "1e-400", "0.30000000000000004", "-6.330815e-05",
                                 "1E+9", "12.5e-1", "0.000000000000000000000000001", "1e0000000000000000001"};
    char buf[64];
    size_t i, bad = 0;
    unsigned long long state = 12345;
    for (i = 0; i < sizeof edge / sizeof edge[0] + 300000; i++) {
        char *stop;
        size_t end, len;
        double want, got;
        if (i < sizeof edge / sizeof edge[0]) {
            len = (size_t)sprintf(buf, "%s", edge[i]);
        } else { /* random digits, point and exponent */
            int nd, k, point;
            len = 0;
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            nd = 1 + (int)((state >> 33) % 20);
            point = (int)((state >> 40) % (unsigned)(nd + 1));
            if (state >> 63)
                buf[len++] = '-';
            for (k = 0; k < nd; k++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                if (k == point && k > 0)
                    buf[len++] = '.';
                buf[len++] = (char)((k == 0 && nd > 1 && point != 1) ? '1' + (int)((state >> 33) % 9)
                                                                    : '0' + (int)((state >> 33) % 10));
            }
            if ((state >> 50) & 1)
                len += (size_t)sprintf(buf + len, "e%d", (int)((state >> 20) % 81) - 40);
        }
        buf[len] = ',';
        buf[len + 1] = 0;
        want = strtod(buf, &stop);
        got = tj_num_end(buf, 0, &end);
        if (memcmp(&want, &got, sizeof want) || end != (size_t)(stop - buf) || tj_num(buf, 0) != got) {
            if (bad++ < 5)
                printf("number %.*s: %.17g, strtod %.17g\n", (int)len, buf, got, want);
        }
    }
    CHECK(bad == 0, "tj_num equals strtod on 300k decimals (%lu differ)", (unsigned long)bad);
}

/* ---- hostile models ---- */
static const char *HEAD = "{\"format\":\"tessera\",\"format_version\":\"%s\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
                          "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":%s}],"
                          "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":%s}],"
                          "\"initializers\":[%s],\"nodes\":[%s]}}";

static tsr_code load(const char *doc, size_t n, char *msg)
{
    tsr_model *m = NULL;
    tsr_error e;
    tsr_code rc = tsr_model_load_alloc(doc, n, &m, &e);
    if (msg)
        strcpy(msg, rc ? e.message : "");
    tsr_model_free(m);
    return rc;
}

static tsr_code model(const char *ver, const char *in, const char *out, const char *inits, const char *nodes)
{
    static char buf[1 << 16];
    char msg[256];
    snprintf(buf, sizeof buf, HEAD, ver, in, out, inits, nodes);
    return load(buf, strlen(buf), msg);
}

#define RELU "{\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}"
#define W2 "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[2],\"data\":[1,2]}"

static void test_hostile(void)
{
    char buf[4096];
    CHECK(model("1.0", "[\"n\",2]", "[\"n\",2]", "", RELU) == TSR_OK, "valid relu");
    snprintf(buf, sizeof buf, HEAD, "1.0", "[2]", "[2]", "", RELU);
    CHECK(load(buf, strlen(buf) / 2, NULL) == TSR_E_PARSE, "truncated");
    CHECK(model("2.0", "[2]", "[2]", "", RELU) == TSR_E_VERSION, "major 2");
    CHECK(model(newer_minor(), "[2]", "[2]", "", "{\"op\":\"Gelu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}") == TSR_E_VERSION,
          "newer minor, unknown op");
    CHECK(model(newer_minor(), "[2]", "[2]", "", RELU) == TSR_OK, "newer minor, nothing new");
    CHECK(model(TSR_FORMAT_VERSION, "[2]", "[2]", "", "{\"op\":\"Gelu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}") == TSR_E_UNKNOWN_OP,
          "implemented minor, unknown op");
    CHECK(model("1.0", "[2]", "[2]", "", "{\"op\":\"Gelu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}") == TSR_E_UNKNOWN_OP,
          "unknown op");
    CHECK(model("01.0", "[2]", "[2]", "", RELU) == TSR_E_SCHEMA, "bad version string");
    CHECK(model("1.0", "[4611686018427387904]", "[2]", "", RELU) == TSR_E_LIMIT, "dim 2^62");
    CHECK(model("1.0", "[65536,65536,65536]", "[2]", "", RELU) == TSR_E_LIMIT, "element count overflow");
    CHECK(model("1.0", "[1,1,1,1,1,1,1,1,1]", "[2]", "", RELU) == TSR_E_LIMIT, "rank 9");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[3],\"data\":[1,2]}", RELU) == TSR_E_DATA,
          "data shorter");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data\":[1,2]}", RELU) == TSR_E_DATA,
          "data longer");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data\":[1e39]}", RELU) == TSR_E_DATA,
          "non-finite data");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data\":[\"nan\"]}", RELU) == TSR_E_SCHEMA,
          "non-numeric data");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data_b64\":\"AACAfw==\"}", RELU) == TSR_E_DATA,
          "b64 inf");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data_b64\":\"AACAPw=\"}", RELU) == TSR_E_DATA,
          "b64 bad length");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[1],\"data_b64\":\"AACAPw==\",\"checksum\":\"crc32:00000000\"}", RELU) == TSR_E_DATA,
          "checksum mismatch");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[2],\"data\":[1,2]}", RELU) == TSR_E_GRAPH,
          "duplicate name");
    CHECK(model("1.0", "[2]", "[2]", W2,
                "{\"op\":\"Add\",\"inputs\":[\"x\",\"z\"],\"outputs\":[\"y\"]},{\"op\":\"Relu\",\"inputs\":[\"y\"],\"outputs\":[\"z\"]}") == TSR_E_GRAPH,
          "cycle");
    CHECK(model("1.0", "[2]", "[3]", "", RELU) == TSR_E_SHAPE, "declared output shape");
    CHECK(model("1.0", "[\"n\",2]", "[\"m\",2]", "", RELU) == TSR_E_SHAPE, "symbol mismatch");
    CHECK(model("1.0", "[2]", "[2]", "", "{\"op\":\"Relu\",\"inputs\":[\"x\",\"x\"],\"outputs\":[\"y\"]}") == TSR_E_SCHEMA,
          "arity");
    CHECK(model("1.0", "[2,3]", "[3,2]", "", "{\"op\":\"Transpose\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attrs\":{\"perm\":[0,2]}}") == TSR_E_SHAPE,
          "bad perm");
    CHECK(model("1.0", "[2,3]", "[3,2]", "", "{\"op\":\"Transpose\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}") == TSR_OK,
          "default perm");
    CHECK(model("1.0", "[2]", "[2]", "", "{\"op\":\"Clip\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attrs\":{\"min\":2,\"max\":1}}") == TSR_E_SCHEMA,
          "clip min>max");
    CHECK(model("1.0", "[\"n\",6]", "[\"n\",2,3]", "", "{\"op\":\"Reshape\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attrs\":{\"shape\":[\"n\",-1,3]}}") == TSR_OK,
          "reshape -1");
    CHECK(model("1.0", "[\"n\",6]", "[\"n\",4]", "", "{\"op\":\"Reshape\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attrs\":{\"shape\":[\"n\",-1,4]}}") == TSR_E_SHAPE,
          "reshape indivisible");
    {
        char *deep = (char *)malloc(200001);
        memset(deep, '[', 100000);
        memset(deep + 100000, ']', 100000);
        CHECK(load(deep, 200000, NULL) == TSR_E_LIMIT, "100000 nested arrays");
        free(deep);
    }
}

/* Index of the op named `name` in the table, or -1. */
static int op_index(const char *name)
{
    int i;
    for (i = 0; i < tsr_op_count(); i++)
        if (!strcmp(tsr_op_name(i), name))
            return i;
    return -1;
}

/* The op table as the API enumerates it (tsr_op_*), and the loader taking
 * arity and attribute keys from the same rows. Holds for any table that
 * contains op set 1.0: new rows need no change here. */
static void test_op_table(void)
{
    static const char *const v10[] = {"MatMul", "Add", "Sub", "Mul", "Div", "Maximum", "Minimum", "Neg",
                                      "Abs", "Sqrt", "Relu", "Exp", "Log", "Sigmoid", "Tanh", "Softplus",
                                      "Clip", "Softmax", "ReduceSum", "ReduceMean", "ReduceMax", "Transpose",
                                      "Reshape"};
    int i, j, n = tsr_op_count(), max_in = 0, bad = 0, mm = op_index("MatMul"), rs = op_index("Reshape");
    CHECK(n >= (int)(sizeof v10 / sizeof v10[0]), "tsr_op_count() = %d", n);
    for (i = 0; i < (int)(sizeof v10 / sizeof v10[0]); i++)
        if (op_index(v10[i]) < 0)
            bad++, printf("op %s missing\n", v10[i]);
    CHECK(!tsr_op_name(-1) && !tsr_op_name(n) && tsr_op_arity(n, NULL) == -1 && tsr_op_attr_count(-1) == -1 &&
          !tsr_op_attr_name(n, 0), "out of range");
    CHECK(mm >= 0 && tsr_op_arity(mm, &max_in) == 2 && max_in == 2, "MatMul takes 2 inputs");
    CHECK(tsr_op_arity(op_index("Relu"), &max_in) == 1 && max_in == 1, "Relu takes 1 input");
    CHECK(mm >= 0 && tsr_op_attr_count(mm) == 2 && !strcmp(tsr_op_attr_name(mm, 0), "transpose_a") &&
          !strcmp(tsr_op_attr_name(mm, 1), "transpose_b") && !tsr_op_attr_name(mm, 2) &&
          !tsr_op_attr_name(mm, -1), "MatMul attributes");
    CHECK(tsr_op_attr_count(op_index("Add")) == 0 && rs >= 0 && tsr_op_attr_count(rs) == 1 &&
          !strcmp(tsr_op_attr_name(rs, 0), "shape"), "Add, Reshape attributes");
    for (i = 0; i < n; i++) {
        char node[512], attrs[256], msg[256];
        int k, len = 0, max_i = 0, arity = tsr_op_arity(i, &max_i), na = tsr_op_attr_count(i);
        static char doc[4096];
        if (na < 0 || na > TSR_ATTR_MAX_KEYS)
            bad++, printf("%s: %d attribute keys\n", tsr_op_name(i), na);
        for (j = 0; j < i; j++)
            if (!strcmp(tsr_op_name(i), tsr_op_name(j)))
                bad++, printf("%s listed twice\n", tsr_op_name(i));
        /* one input too many: E_SCHEMA naming the table's arity */
        len = snprintf(node, sizeof node, "{\"op\":\"%s\",\"inputs\":[\"x\"", tsr_op_name(i));
        for (k = 0; k < max_i; k++)
            len += snprintf(node + len, sizeof node - (size_t)len, ",\"x\"");
        snprintf(node + len, sizeof node - (size_t)len, "],\"outputs\":[\"y\"]}");
        snprintf(doc, sizeof doc, HEAD, TSR_FORMAT_VERSION, "[2]", "[2]", "", node);
        if (load(doc, strlen(doc), msg) != TSR_E_SCHEMA || !strstr(msg, "inputs, got"))
            bad++, printf("%s arity: %s\n", tsr_op_name(i), msg);
        /* each declared key with a value no kind accepts: E_SCHEMA naming it; an undeclared key likewise */
        for (j = 0; j <= na; j++) {
            const char *key = j < na ? tsr_op_attr_name(i, j) : "no_such_key";
            len = snprintf(node, sizeof node, "{\"op\":\"%s\",\"inputs\":[\"x\"", tsr_op_name(i));
            for (k = 1; k < arity; k++)
                len += snprintf(node + len, sizeof node - (size_t)len, ",\"x\"");
            snprintf(attrs, sizeof attrs, "{\"%s\":{}}", key);
            snprintf(node + len, sizeof node - (size_t)len, "],\"outputs\":[\"y\"],\"attrs\":%s}", attrs);
            snprintf(doc, sizeof doc, HEAD, TSR_FORMAT_VERSION, "[2]", "[2]", "", node);
            if (load(doc, strlen(doc), msg) != TSR_E_SCHEMA || !strstr(msg, key)) {
                bad++;
                printf("%s attribute %s: %s\n", tsr_op_name(i), key, msg);
            }
        }
    }
    CHECK(bad == 0, "op table: names in SPEC order, distinct; arity and every attribute key enforced by the loader (%d failures)", bad);
}

/* ---- running ---- */
static void test_run(void)
{
    const char *doc =
        "{\"format\":\"tessera\",\"format_version\":\"1.0\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
        "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"n\",2]}],"
        "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":[\"n\",3]},{\"name\":\"s\",\"dtype\":\"float32\",\"shape\":[3]}],"
        "\"initializers\":[{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[3,2],\"data\":[1,2,3,4,5,6]}],"
        "\"nodes\":[{\"op\":\"MatMul\",\"inputs\":[\"x\",\"W\"],\"outputs\":[\"y\"],\"attrs\":{\"transpose_b\":true}},"
        "{\"op\":\"ReduceSum\",\"inputs\":[\"y\"],\"outputs\":[\"s\"],\"attrs\":{\"axes\":[0]}}]}}";
    size_t bytes = 0, ws_len = 0;
    tsr_error e;
    tsr_model *m = NULL;
    void *arena;
    static double ws[4096];
    float x[4] = {1, 0, 2, -1};
    tsr_tensor in, out[2];
    CHECK(tsr_model_size(doc, strlen(doc), &bytes, &e) == TSR_OK, "size: %s", e.message);
    arena = malloc(bytes);
    CHECK(tsr_model_load(doc, strlen(doc), arena, bytes - 300, &m, &e) != TSR_OK || 1, "small arena handled");
    CHECK(tsr_model_load(doc, strlen(doc), arena, bytes, &m, &e) == TSR_OK, "load: %s", e.message);
    memset(&in, 0, sizeof in);
    in.name = "x";
    in.rank = 2;
    in.shape[0] = 2;
    in.shape[1] = 2;
    in.data = x;
    CHECK(tsr_bind(m, &in, 1, &ws_len, &e) == TSR_OK && ws_len <= sizeof ws, "bind");
    CHECK(tsr_run(m, &in, 1, out, ws, sizeof ws, &e) == TSR_OK, "run: %s", e.message);
    CHECK(out[0].rank == 2 && out[0].shape[1] == 3, "shape");
    CHECK(out[0].data[0] == 1 && out[0].data[1] == 3 && out[0].data[2] == 5, "row0");
    CHECK(out[0].data[3] == 0 && out[0].data[4] == 2 && out[0].data[5] == 4, "row1");
    CHECK(out[1].data[0] == 1 && out[1].data[1] == 5 && out[1].data[2] == 9, "reduce");
    in.shape[1] = 3;
    CHECK(tsr_bind(m, &in, 1, &ws_len, &e) == TSR_E_INPUT, "fixed dim differs");
    in.shape[1] = 2;
    in.shape[0] = 1 << 26;
    CHECK(tsr_bind(m, &in, 1, &ws_len, &e) == TSR_E_LIMIT, "bound shape too big");
    in.name = "q";
    CHECK(tsr_bind(m, &in, 1, &ws_len, &e) == TSR_E_INPUT, "unknown input");
    free(arena);
}

static void test_ops(void)
{
    float a[4] = {-0.0f, 0.0f, 1.0f, -2.0f}, b[4] = {0.0f, -0.0f, 1.0f, 3.0f}, y[4];
    int32_t shape[2] = {2, 2}, sa[2] = {2, 1}, sb[2] = {0, 1};
    tsr_k_binary(TSR_K_MAX, a, b, y, 1, shape + 1, sa + 1, sb + 1);
    CHECK(y[0] == 0 && !(bits(y[0]) >> 31), "max(-0,+0) = +0");
    tsr_k_binary_flat(TSR_K_MIN, a, b, y, 2, 1, 1);
    CHECK(bits(y[1]) == 0x80000000u, "min(+0,-0) = -0");
    tsr_k_binary(TSR_K_ADD, a, b, y, 2, shape, sa, sb);
    CHECK(y[2] == 1 && y[3] == -2 + -0.0f, "broadcast add");
    CHECK(tsr_k_exp1(0) == 1 && tsr_k_log1(1) == 0 && tsr_k_sigmoid1(0) == 0.5f, "exp/log/sigmoid");
    CHECK(tsr_k_exp1(-200) == 0 && tsr_k_exp1(100) > 1e38f, "exp range");
    tsr_k_softmax(b, y, 1, 4, 1);
    CHECK(y[0] + y[1] + y[2] + y[3] > 0.99f, "softmax");
}

/* ---- format 1.1 kernels: the edge cases SPEC 6 and 7.7-7.9 name ---- */
static float fbits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_compare_logic(void)
{
    const float nan = fbits(0x7FC00001u), inf = fbits(0x7F800000u);
    float a[6] = {1.0f, -0.0f, 0.0f, 2.0f, 0, 0}, b[6] = {2.0f, 0.0f, -0.0f, 2.0f, 0, 0};
    int32_t y[16], shape[1] = {6}, one[1] = {1}, ia[4] = {INT32_MIN, -1, 0, INT32_MAX}, ib[4] = {INT32_MAX, 0, 0, INT32_MIN};
    static const int32_t want[6][6] = {/* GT GE LT LE EQ NE for a[i] vs b[i] */
                                       {0, 0, 1, 1, 0, 1}, {0, 1, 0, 1, 1, 0}, {0, 1, 0, 1, 1, 0},
                                       {0, 1, 0, 1, 1, 0}, {0, 0, 0, 0, 0, 1}, {0, 0, 0, 0, 0, 1}};
    int32_t op, i, bad = 0;
    a[4] = nan, b[4] = 1.0f, a[5] = nan, b[5] = nan;
    for (op = TSR_K_GT; op <= TSR_K_NE; op++) {
        tsr_k_compare(op, TSR_K_F32, a, b, y, 1, shape, one, one);
        for (i = 0; i < 6; i++)
            bad += y[i] != want[i][op];
    }
    CHECK(bad == 0, "float comparisons: NaN false except NotEqual, -0 == +0 (%d wrong)", (int)bad);
    b[0] = inf;
    tsr_k_compare(TSR_K_LT, TSR_K_F32, a, b, y, 1, shape, one, one);
    CHECK(y[0] == 1, "1 < inf");
    shape[0] = 4;
    tsr_k_compare(TSR_K_LT, TSR_K_I32, ia, ib, y, 1, shape, one, one);
    CHECK(y[0] == 1 && y[1] == 1 && y[2] == 0 && y[3] == 0, "int32 signed compare, INT32_MIN < INT32_MAX");
    {
        int32_t p[3] = {2, -1, 0}, q[2] = {-5, 0}, sh[2] = {2, 3}, sp[2] = {0, 1}, sq[2] = {1, 0};
        /* p broadcast along rows [3], q along columns [2, 1] */
        tsr_k_compare(TSR_K_AND, TSR_K_I32, p, q, y, 2, sh, sp, sq);
        CHECK(y[0] == 1 && y[1] == 1 && y[2] == 0 && y[3] == 0 && y[4] == 0 && y[5] == 0, "And(2,-1) = 1, broadcast");
        tsr_k_compare(TSR_K_OR, TSR_K_I32, p, q, y, 2, sh, sp, sq);
        CHECK(y[0] == 1 && y[2] == 1 && y[3] == 1 && y[4] == 1 && y[5] == 0, "Or, broadcast");
        tsr_k_not(q, y, 2);
        CHECK(y[0] == 0 && y[1] == 1, "Not(-5) = 0, Not(0) = 1");
    }
}

static void test_where(void)
{
    /* c [2,1,3], a [4,1], b [3]: output [2,4,3], every combination of
     * broadcasts, against the literal definition */
    int32_t c[6] = {1, 0, -7, 0, 5, 0}, sh[3] = {2, 4, 3}, sc[3] = {3, 0, 1}, sa[3] = {0, 1, 0}, sb[3] = {0, 0, 1};
    uint32_t a[4] = {0x7FC01234u, 0x80000000u, 3, 4}, b[3] = {0xFFFFFFFFu, 0x00000000u, 0x80000001u}, y[24];
    int32_t i, j, k, bad = 0;
    tsr_k_where(c, a, b, y, 3, sh, sc, sa, sb);
    for (i = 0; i < 2; i++)
        for (j = 0; j < 4; j++)
            for (k = 0; k < 3; k++)
                bad += y[(i * 4 + j) * 3 + k] != (c[i * 3 + k] ? a[j] : b[k]);
    CHECK(bad == 0, "Where: 3-way broadcast, bits copied (NaN payload, -0) (%d wrong)", (int)bad);
}

static void test_cast(void)
{
    float x[12] = {0, -0.7f, 2.9f, -2.9f, 0, 0, 2147483648.0f, 2147483520.0f, -2147483648.0f, -2147483904.0f, 0, 0};
    int32_t want[12] = {0, 0, 2, -2, 0, INT32_MAX, INT32_MAX, 2147483520, INT32_MIN, INT32_MIN, INT32_MIN, 0}, y[12];
    int32_t iv[5] = {16777217, INT32_MAX, INT32_MIN, -16777219, 7};
    float fy[5];
    int32_t i, bad = 0;
    x[4] = fbits(0x7FC00000u);  /* NaN -> 0 */
    x[5] = fbits(0x7F800000u);  /* +inf */
    x[10] = fbits(0xFF800000u); /* -inf */
    x[11] = fbits(0xFFC00001u); /* -NaN -> 0 */
    tsr_k_cast_f2i(x, y, 12);
    for (i = 0; i < 12; i++)
        if (y[i] != want[i])
            bad++, printf("cast f2i %g -> %ld, want %ld\n", (double)x[i], (long)y[i], (long)want[i]);
    CHECK(bad == 0, "Cast float32 -> int32: NaN, saturation, truncation toward zero");
    tsr_k_cast_i2f(iv, fy, 5);
    CHECK(fy[0] == 16777216.0f && fy[1] == 2147483648.0f && fy[2] == -2147483648.0f && fy[3] == -16777220.0f &&
          fy[4] == 7.0f, "Cast int32 -> float32: round to nearest even");
}

static void test_gather_concat_slice(void)
{
    static uint32_t x[3 * 5 * 37], y[3 * 6 * 37];
    int32_t idx[6] = {0, -1, 4, -5, 2, 2}, inner, i, o, j, q, bad = 0;
    for (i = 0; i < 3 * 5 * 37; i++)
        x[i] = 0x7F800000u + (uint32_t)i; /* NaN payloads: bits must survive */
    for (inner = 1; inner <= 37; inner += 3) { /* vector body and scalar tail */
        memset(y, 0, sizeof y);
        CHECK(tsr_k_gather(x, idx, y, 3, 5, 6, inner) == -1, "gather ok");
        for (o = 0; o < 3; o++)
            for (j = 0; j < 6; j++)
                for (q = 0; q < inner; q++)
                    bad += y[(o * 6 + j) * inner + q] != x[(o * 5 + (idx[j] < 0 ? idx[j] + 5 : idx[j])) * inner + q];
    }
    CHECK(bad == 0, "Gather rows, negative indices, every inner size 1..37 (%d wrong)", (int)bad);
    {
        int32_t bad_idx[3] = {1, 5, -6};
        memset(y, 0xAB, sizeof y);
        CHECK(tsr_k_gather(x, bad_idx, y, 3, 5, 3, 4) == 1, "index 5 of [-5, 4]: position 1");
        for (i = 0, bad = 0; i < 3 * 3 * 4; i++)
            bad += y[i] != 0xABABABABu;
        CHECK(bad == 0, "out-of-range index: nothing written");
        bad_idx[1] = 0;
        CHECK(tsr_k_gather(x, bad_idx, y, 1, 5, 3, 1) == 2, "index -6 of [-5, 4]: position 2");
        bad_idx[0] = INT32_MIN;
        CHECK(tsr_k_gather(x, bad_idx, y, 1, 5, 3, 1) == 0, "INT32_MIN index rejected");
        bad_idx[0] = INT32_MAX;
        CHECK(tsr_k_gather(x, bad_idx, y, 1, 5, 3, 1) == 0, "INT32_MAX index rejected");
    }
    /* Concat of (2,1,3) and (2,2,3) along axis 1 */
    {
        uint32_t p[6] = {1, 2, 3, 4, 5, 6}, r[12] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}, z[18];
        static const uint32_t want[18] = {1, 2, 3, 11, 12, 13, 14, 15, 16, 4, 5, 6, 17, 18, 19, 20, 21, 22};
        tsr_k_concat(p, z, 2, 1, 3, 3, 0);
        tsr_k_concat(r, z, 2, 2, 3, 3, 1);
        CHECK(!memcmp(z, want, sizeof want), "Concat along the middle axis");
    }
    /* Slice of a 4 x 5 matrix: rows 3, 1 (step -2), columns 1..4 step 2 */
    {
        uint32_t m[20], z[4];
        int32_t sh[2] = {4, 5}, out[2] = {2, 2}, st[2] = {3, 1}, sp[2] = {-2, 2};
        for (i = 0; i < 20; i++)
            m[i] = (uint32_t)i;
        tsr_k_slice(m, z, 2, sh, out, st, sp);
        CHECK(z[0] == 16 && z[1] == 18 && z[2] == 6 && z[3] == 8, "Slice with a negative step");
        out[1] = 5, st[1] = 0, sp[1] = 1, sp[0] = -3, st[0] = 3;
        tsr_k_slice(m, y, 2, sh, out, st, sp);
        CHECK(y[0] == 15 && y[4] == 19 && y[5] == 0 && y[9] == 4, "Slice, contiguous rows");
    }
}

static void test_argmax(void)
{
    float x[8] = {1.0f, 3.0f, 3.0f, 0, 2.0f, 0, -0.0f, 0.0f};
    int32_t y[4], iv[4] = {INT32_MIN, INT32_MAX, INT32_MAX, INT32_MIN};
    x[3] = fbits(0x7FC00000u);
    x[5] = fbits(0xFFC00000u);
    tsr_k_argmax(1, TSR_K_F32, x, y, 1, 3, 1);
    CHECK(y[0] == 1, "ArgMax ties keep the first");
    tsr_k_argmax(0, TSR_K_F32, x, y, 1, 3, 1);
    CHECK(y[0] == 0, "ArgMin");
    tsr_k_argmax(1, TSR_K_F32, x, y, 1, 6, 1);
    CHECK(y[0] == 3, "ArgMax: the first NaN wins");
    tsr_k_argmax(0, TSR_K_F32, x + 3, y, 1, 5, 1);
    CHECK(y[0] == 0, "ArgMin: NaN at 0 wins");
    tsr_k_argmax(1, TSR_K_F32, x + 6, y, 1, 2, 1);
    CHECK(y[0] == 0, "ArgMax: -0 and +0 tie");
    tsr_k_argmax(0, TSR_K_F32, x + 6, y, 1, 2, 1);
    CHECK(y[0] == 0, "ArgMin: -0 and +0 tie");
    tsr_k_argmax(1, TSR_K_I32, iv, y, 1, 4, 1);
    CHECK(y[0] == 1, "ArgMax int32");
    tsr_k_argmax(0, TSR_K_I32, iv, y, 1, 4, 1);
    CHECK(y[0] == 0, "ArgMin int32, INT32_MIN first");
    tsr_k_argmax(1, TSR_K_I32, iv, y, 1, 2, 2); /* columns: {MIN, MAX} {MAX, MIN} */
    CHECK(y[0] == 1 && y[1] == 0, "ArgMax along a strided axis");
}

/* tsr_k_reduce against the literal SPEC 7.5 loop on (count, nout) views
 * with leading axes reduced (the kernel's register-blocked path for
 * sum/mean/prod when nout is wide), on (nout, count) views with trailing
 * axes reduced (its eight interleaved chains for sum/mean when nout >= 8,
 * with a last block that overlaps the one before: nout = 12, 20, 60) and on
 * other axis patterns. */
static void test_reduce_paths(void)
{
    static float x[3 * 4 * 45], y[3 * 4 * 45];
    static const int32_t shapes[][3] = {{3, 4, 45}, {1, 7, 40}, {3, 4, 5}, {20, 3, 9}};
    static const int32_t reds[][3] = {{1, 1, 0}, {1, 0, 0}, {0, 1, 0}, {1, 0, 1}, {0, 1, 1}, {0, 0, 1}};
    int32_t op, si, ri, i, j, bad = 0, runs = 0;
    uint32_t r = 11u;
    for (i = 0; i < 3 * 4 * 45; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(r >> 9) - (1 << 22)) / 1048576.0f;
    }
    x[5] = fbits(0x7FC00000u), x[50] = -0.0f, x[51] = fbits(0x7F800000u), x[97] = 1e30f, x[142] = 1e30f;
    for (op = TSR_K_RSUM; op <= TSR_K_RPROD; op++)
        for (si = 0; si < 4; si++)
            for (ri = 0; ri < 6; ri++) {
                const int32_t *sh = shapes[si], *rd = reds[ri];
                int32_t idx[3], o, nout = 1, cnt = 1;
                float want[3 * 4 * 45];
                for (j = 0; j < 3; j++)
                    rd[j] ? (cnt *= sh[j]) : (nout *= sh[j]);
                for (o = 0; o < nout; o++)
                    want[o] = op == TSR_K_RMAX ? fbits(0xFF800000u) : op == TSR_K_RMIN ? fbits(0x7F800000u)
                            : op == TSR_K_RPROD ? 1.0f : 0.0f;
                for (idx[0] = 0; idx[0] < sh[0]; idx[0]++) /* row-major: the visiting order of SPEC 7.5 */
                    for (idx[1] = 0; idx[1] < sh[1]; idx[1]++)
                        for (idx[2] = 0; idx[2] < sh[2]; idx[2]++) {
                            float v = x[(idx[0] * sh[1] + idx[1]) * sh[2] + idx[2]], *w;
                            for (j = 0, o = 0; j < 3; j++)
                                if (!rd[j])
                                    o = o * sh[j] + idx[j];
                            w = &want[o];
                            *w = op == TSR_K_RMAX ? tsr_k_max1(*w, v) : op == TSR_K_RMIN ? tsr_k_min1(*w, v)
                               : op == TSR_K_RPROD ? *w * v : *w + v;
                        }
                if (op == TSR_K_RMEAN)
                    for (o = 0; o < nout; o++)
                        want[o] = want[o] / (float)cnt;
                tsr_k_reduce(op, x, y, 3, sh, rd);
                for (o = 0; o < nout; o++)
                    bad += bits(y[o]) != bits(want[o]);
                runs++;
            }
    CHECK(bad == 0, "tsr_k_reduce = SPEC 7.5 loop bit for bit on %d shape/axes/op cases (%d wrong)", (int)runs, (int)bad);
}

/* The literal scan of SPEC 7.9 (first NaN wins, strict comparison). */
static int32_t scan_ref(const float *x, int32_t n, int32_t st, int max)
{
    int32_t best = 0, i;
    for (i = 1; i < n; i++) {
        float b = x[best * st], v = x[i * st];
        if (b != b)
            continue;
        if (v != v || (max ? v > b : v < b))
            best = i;
    }
    return best;
}

/* tsr_k_argmax against the scan on random slices full of ties, zeros of both
 * signs, infinities and NaN at random places: contiguous slices (the vector
 * path when long enough) and strided ones (the scalar loop), both dtypes. */
static void test_argmax_random(void)
{
    static float x[3 * 80];
    static int32_t xi[3 * 80];
    static const float pool[8] = {1.0f, 2.0f, -0.0f, 0.0f, -1.0f, 2.0f, 0, 0};
    int32_t y[3], n, k, t, bad = 0, runs = 0, max;
    uint32_t r = 99u;
    for (t = 0; t < 400; t++) {
        int nan_rate = t % 4; /* 0: no NaN at all */
        for (k = 0; k < 3 * 80; k++) {
            r = r * 1664525u + 1013904223u;
            x[k] = pool[(r >> 10) % 6];
            if ((r >> 20) % 64 == 0)
                x[k] = fbits((r >> 19) & 1 ? 0x7F800000u : 0xFF800000u);
            if (nan_rate && (r >> 24) % (40 * nan_rate) == 0)
                x[k] = fbits(0x7FC00000u | (r & 0xFFu));
            xi[k] = (int32_t)((r >> 12) % 5) - 2;
            if ((r >> 22) % 50 == 0)
                xi[k] = (r >> 21) & 1 ? INT32_MIN : INT32_MAX;
        }
        n = 1 + (int32_t)(t % 80);
        for (max = 0; max <= 1; max++) {
            int32_t want[3], wi, q;
            tsr_k_argmax(max, TSR_K_F32, x, y, 3, n, 1); /* contiguous slices */
            for (q = 0; q < 3; q++)
                bad += y[q] != scan_ref(x + q * n, n, 1, max);
            tsr_k_argmax(max, TSR_K_F32, x, y, 1, n, 3); /* strided */
            for (q = 0; q < 3; q++)
                bad += y[q] != scan_ref(x + q, n, 3, max);
            tsr_k_argmax(max, TSR_K_I32, xi, want, 3, n, 1);
            for (q = 0; q < 3; q++) {
                for (k = 1, wi = 0; k < n; k++)
                    if (max ? xi[q * n + k] > xi[q * n + wi] : xi[q * n + k] < xi[q * n + wi])
                        wi = k;
                bad += want[q] != wi;
            }
            runs++;
        }
    }
    CHECK(bad == 0, "ArgMax/ArgMin = the SPEC 7.9 scan on %d random slice sets (vector and scalar) (%d wrong)",
          (int)runs, (int)bad);
}

static void test_reduce11(void)
{
    float x[4] = {0.0f, -0.0f, 3.0f, 0}, y[2];
    int32_t sh[2] = {2, 2}, red[2] = {0, 1}, sh1[1] = {3}, all[1] = {1};
    x[3] = fbits(0x7FC00000u);
    tsr_k_reduce(TSR_K_RMIN, x, y, 2, sh, red);
    CHECK(bits(y[0]) == 0x80000000u && y[1] != y[1], "ReduceMin: -0 below +0, NaN propagates");
    {
        float p[3] = {1e30f, 1e30f, 1e-30f};
        tsr_k_reduce(TSR_K_RPROD, p, y, 1, sh1, all);
        CHECK(y[0] == fbits(0x7F800000u), "ReduceProd in order: (1e30 * 1e30) overflows before * 1e-30");
    }
    {
        float p[1] = {-0.0f};
        int32_t s1[1] = {1};
        tsr_k_reduce(TSR_K_RPROD, p, y, 1, s1, all);
        CHECK(bits(y[0]) == 0x80000000u, "ReduceProd(+1 * -0) = -0");
    }
}

/* LogSoftmax: the SPEC 7.4 loop with the scalar Exp/Log, against the kernel
 * on every path (its contiguous case goes through tsr_k_exp), for lengths
 * across the 64-element chunks, and a strided layout. */
static float ls_ref(const float *x, int32_t n, int32_t st, int32_t i)
{
    float m = fbits(0xFF800000u), s = 0.0f;
    int32_t k;
    for (k = 0; k < n; k++)
        m = tsr_k_max1(m, x[k * st]);
    for (k = 0; k < n; k++)
        s = s + tsr_k_exp1(x[k * st] - m);
    return (x[i * st] - m) - tsr_k_log1(s);
}

/* The kernel paths to check: with TSR_K_DISPATCH every path this CPU has
 * (baseline ISA, AVX2, AVX-512F on x86-64), else only the default. */
#if defined(TSR_K_DISPATCH)
static const int32_t kpaths[] = {TSR_K_PATH_BASE, TSR_K_PATH_AVX2, TSR_K_PATH_AVX512};
static const char *const kpath_names[] = {"baseline", "avx2", "avx512f"};
#endif
#define NKPATHS 3

/* 1 when path index p (-1: the default, by CPU) is forced for the tests below,
 * 0 when this CPU or build cannot take it */
static int kpath_use(int32_t p)
{
#if defined(TSR_K_DISPATCH)
    return tsr_k_set_path(p < 0 ? -1 : kpaths[p]);
#else
    return p < 0;
#endif
}

/* name of path index p of the tests below (-1: the default, by CPU) */
static const char *kpath_name(int32_t p)
{
#if defined(TSR_K_DISPATCH)
    return p < 0 ? "default" : kpath_names[p];
#else
    return p < 0 ? "default" : "?";
#endif
}

static void test_log_softmax(void)
{
    static float x[2 * 200], y[2 * 200];
    int32_t n, i, p, bad = 0, runs = 0;
    uint32_t r = 7u;
    for (i = 0; i < 400; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(r >> 8) - (1 << 23)) / 65536.0f; /* about [-128, 128] */
    }
    for (p = -1; p < NKPATHS; p++) {
        if (!kpath_use(p))
            continue;
        for (n = 1; n <= 200; n += (n < 70 ? 1 : 13)) {
            tsr_k_log_softmax(x, y, 1, n, 1);
            for (i = 0; i < n; i++)
                bad += bits(y[i]) != bits(ls_ref(x, n, 1, i));
            tsr_k_log_softmax(x, y, 1, n, 2); /* strided: the scalar loop */
            for (i = 0; i < n; i++)
                bad += bits(y[2 * i]) != bits(ls_ref(x, n, 2, i)) || bits(y[2 * i + 1]) != bits(ls_ref(x + 1, n, 2, i));
            runs++;
        }
    }
    kpath_use(-1);
    CHECK(bad == 0 && runs > 0, "LogSoftmax = SPEC 7.4 loop bit for bit, %d lengths x paths (%d wrong)", (int)runs, (int)bad);
    {
        float t[3] = {0, 0, 1.0f};
        t[0] = t[1] = fbits(0xFF800000u);
        tsr_k_log_softmax(t, y, 1, 2, 1);
        CHECK(y[0] != y[0] && y[1] != y[1], "LogSoftmax: all -inf gives NaN");
        t[1] = fbits(0x7F800000u);
        tsr_k_log_softmax(t + 1, y, 1, 2, 1);
        CHECK(y[0] != y[0] && y[1] != y[1], "LogSoftmax: +inf gives NaN");
        t[0] = -1e30f, t[1] = 1e30f;
        tsr_k_log_softmax(t, y, 1, 2, 1);
        CHECK(y[1] == 0.0f && y[0] == -2e30f, "LogSoftmax: finite logits, finite results");
    }
}

/* ---- format 1.1 in models: versions, dtypes, data, run-time errors ---- */
static tsr_code doc11(const char *ver, const char *ins, const char *outs, const char *inits, const char *nodes,
                      char *msg)
{
    static char buf[1 << 14];
    snprintf(buf, sizeof buf,
             "{\"format\":\"tessera\",\"format_version\":\"%s\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
             "\"graph\":{\"inputs\":[%s],\"outputs\":[%s],\"initializers\":[%s],\"nodes\":[%s]}}",
             ver, ins, outs, inits, nodes);
    return load(buf, strlen(buf), msg);
}

#define XF "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[2,3]}"
#define XI "{\"name\":\"x\",\"dtype\":\"int32\",\"shape\":[2,3]}"
#define YF(shape) "{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":" shape "}"
#define YI(shape) "{\"name\":\"y\",\"dtype\":\"int32\",\"shape\":" shape "}"
#define NODE(op, ins, attrs) "{\"op\":\"" op "\",\"inputs\":" ins ",\"outputs\":[\"y\"],\"attrs\":" attrs "}"
#define KI(data) "{\"name\":\"k\",\"dtype\":\"int32\",\"shape\":[2],\"data\":" data "}"

static void test_models11(void)
{
    char msg[256];
    struct {
        const char *ver, *ins, *outs, *inits, *nodes;
        tsr_code want;
        const char *what;
    } cases[] = {
        {"1.1", XF, YI("[2,3]"), "", NODE("Greater", "[\"x\",\"x\"]", "{}"), TSR_OK, "Greater float32 -> int32"},
        {"1.0", XF, YI("[2,3]"), "", NODE("Greater", "[\"x\",\"x\"]", "{}"), TSR_E_VERSION, "1.1 op in a 1.0 file"},
        {"1.0", XF, YF("[2,3]"), "", NODE("Gather", "[\"x\",\"x\"]", "{\"axis\":\"bad\"}"), TSR_E_VERSION,
         "1.1 op in a 1.0 file: its attributes are not checked first"},
        {"1.0", XI, YI("[2,3]"), "", NODE("Relu", "[\"x\"]", "{}"), TSR_E_VERSION, "int32 input in a 1.0 file"},
        {"1.0", XF, YF("[2,3]"), KI("[1,2]"), NODE("Relu", "[\"x\"]", "{}"), TSR_E_VERSION, "int32 initializer in a 1.0 file"},
        {"1.0", XI, YI("[2,3]"), "", NODE("Relu", "[\"x\"]", "{\"bad\":1}"), TSR_E_SCHEMA,
         "1.0 file: a schema error comes before the int32 E_VERSION"},
        {newer_minor(), XI, YI("[2,3]"), "", NODE("Transpose", "[\"x\"]", "{\"perm\":[0,1]}"), TSR_OK, "newer minor: int32 known"},
        {"1.1", XF, YF("[2,3]"), "", "{\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}", TSR_OK, "1.1 file, 1.0 ops"},
        {"1.1", XI, YI("[2,3]"), "", NODE("Relu", "[\"x\"]", "{}"), TSR_E_SHAPE, "Relu of int32"},
        {"1.1", XF, YF("[2,3]"), KI("[1,2]"), NODE("Add", "[\"x\",\"k\"]", "{}"), TSR_E_SHAPE, "Add float32 + int32"},
        {"1.1", XF, YI("[2,3]"), KI("[1,2]"), NODE("Less", "[\"x\",\"k\"]", "{}"), TSR_E_SHAPE, "Less of mixed dtypes"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Greater", "[\"x\",\"x\"]", "{}"), TSR_E_SHAPE, "declared output dtype differs"},
        {"1.1", XI, YI("[3,2]"), "", NODE("Transpose", "[\"x\"]", "{}"), TSR_OK, "Transpose of int32"},
        {"1.1", XI, YI("[6]"), "", NODE("Reshape", "[\"x\"]", "{\"shape\":[6]}"), TSR_OK, "Reshape of int32"},
        {"1.1", XF, YF("[2]"), KI("[1,2.5]"), "{\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}", TSR_E_DATA,
         "int32 data 2.5"},
        {"1.1", XF, YF("[2,3]"), KI("[1,2147483648]"), NODE("Relu", "[\"x\"]", "{}"), TSR_E_DATA, "int32 data 2^31"},
        {"1.1", XF, YF("[2,3]"), KI("[-2147483648,2.0e0]"), NODE("Relu", "[\"x\"]", "{}"), TSR_OK, "int32 data -2^31, 2.0e0"},
        {"1.1", XF, YF("[2,3]"), KI("[1]"), NODE("Relu", "[\"x\"]", "{}"), TSR_E_DATA, "int32 data too short"},
        /* little-endian two's complement: -1, 2; CRC-32 of those 8 bytes */
        {"1.1", XF, YF("[2,3]"),
         "{\"name\":\"k\",\"dtype\":\"int32\",\"shape\":[2],\"data_b64\":\"/////wIAAAA=\",\"checksum\":\"crc32:00000000\"}",
         NODE("Relu", "[\"x\"]", "{}"), TSR_E_DATA, "int32 base64, checksum mismatch"},
        {"1.1", XF, YF("[2]"),
         "{\"name\":\"k\",\"dtype\":\"int32\",\"shape\":[2],\"data_b64\":\"/////wIAAAA=\",\"checksum\":\"crc32:55f63774\"}",
         "{\"op\":\"ArgMax\",\"inputs\":[\"k\"],\"outputs\":[\"y\"],\"attrs\":{\"axis\":0,\"keepdims\":true}}",
         TSR_E_SHAPE, "int32 base64 with its checksum loads (then: declared output dtype)"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Gather", "[\"x\",\"x\"]", "{}"), TSR_E_SHAPE, "Gather float32 indices"},
        {"1.1", XF, YF("[2,3]"), KI("[1,0]"), NODE("Gather", "[\"x\",\"k\"]", "{\"axis\":0}"), TSR_OK, "Gather"},
        {"1.1", XF, YF("[2,2]"), KI("[1,0]"), NODE("Gather", "[\"x\",\"k\"]", "{\"axis\":-1}"), TSR_OK, "Gather axis -1"},
        {"1.1", XF, YF("[2,2,3]"), KI("[1,0]"), NODE("Gather", "[\"x\",\"k\"]", "{\"axis\":2}"), TSR_E_SHAPE,
         "Gather axis out of range"},
        {"1.1", "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1,1,1,1,1,1,1,2]}", YF("[2]"),
         "{\"name\":\"k\",\"dtype\":\"int32\",\"shape\":[1,1],\"data\":[0]}", NODE("Gather", "[\"x\",\"k\"]", "{}"),
         TSR_E_LIMIT, "Gather result of rank 9"},
        {"1.1", "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"n\",3]}", YF("[2,3]"), "",
         NODE("Concat", "[\"x\",\"x\"]", "{\"axis\":0}"), TSR_E_SHAPE, "Concat: a symbol on the axis"},
        {"1.1", "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"n\",3]}", YF("[\"n\",6]"), "",
         NODE("Concat", "[\"x\",\"x\"]", "{\"axis\":-1}"), TSR_OK, "Concat: the same symbol elsewhere"},
        {"1.1", XF, YF("[2,3]"), KI("[1,2]"), NODE("Concat", "[\"x\",\"k\"]", "{\"axis\":0}"), TSR_E_SHAPE, "Concat mixed dtypes"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Concat", "[\"x\"]", "{}"), TSR_E_SCHEMA, "Concat axis required"},
        {"1.1", XF, YF("[2,1]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[1],\"ends\":[1]}"), TSR_E_SHAPE,
         "Slice: empty result"},
        {"1.1", XF, YF("[1,3]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[-1],\"ends\":[1e300]}"), TSR_OK,
         "Slice: huge end clamps"},
        {"1.1", XF, YF("[2,2]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[-1],\"ends\":[-4],\"steps\":[-2],\"axes\":[-1]}"),
         TSR_OK, "Slice: negative step"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[0],\"ends\":[1],\"steps\":[0]}"), TSR_E_SCHEMA,
         "Slice: zero step"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[0],\"ends\":[1,2]}"), TSR_E_SCHEMA,
         "Slice: lengths differ"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[],\"ends\":[]}"), TSR_E_SCHEMA, "Slice: empty arrays"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Slice", "[\"x\"]", "{\"starts\":[0,0],\"ends\":[1,1],\"axes\":[0,-2]}"),
         TSR_E_SHAPE, "Slice: an axis twice after normalisation"},
        {"1.1", "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"n\",3]}", YF("[1,3]"), "",
         NODE("Slice", "[\"x\"]", "{\"starts\":[0],\"ends\":[1]}"), TSR_E_SHAPE, "Slice: a symbol on a sliced axis"},
        {"1.1", XI, YI("[2,1]"), "", NODE("ArgMax", "[\"x\"]", "{\"axis\":1,\"keepdims\":true}"), TSR_OK, "ArgMax int32, keepdims"},
        {"1.1", XF, YI("[3]"), "", NODE("ArgMin", "[\"x\"]", "{\"axis\":-2}"), TSR_OK, "ArgMin"},
        {"1.1", XF, YI("[2,3]"), "", NODE("Cast", "[\"x\"]", "{\"to\":\"int32\"}"), TSR_OK, "Cast"},
        {"1.1", XF, YI("[2,3]"), "", NODE("Cast", "[\"x\"]", "{\"to\":\"int64\"}"), TSR_E_SCHEMA, "Cast to int64"},
        {"1.1", XI, YI("[2,3]"), "", NODE("Where", "[\"x\",\"x\",\"x\"]", "{}"), TSR_OK, "Where int32"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Where", "[\"x\",\"x\",\"x\"]", "{}"), TSR_E_SHAPE, "Where float32 condition"},
        {"1.1", XI, YI("[2,3]"), "", NODE("Not", "[\"x\"]", "{}"), TSR_OK, "Not"},
        {"1.1", XF, YF("[2,3]"), "", NODE("Not", "[\"x\"]", "{}"), TSR_E_SHAPE, "Not of float32"},
        {"1.1", XI, YI("[2,3]"), "", NODE("LogSoftmax", "[\"x\"]", "{}"), TSR_E_SHAPE, "LogSoftmax of int32"},
        {"1.1", XF, YF("[2]"), "", NODE("ReduceProd", "[\"x\"]", "{\"axes\":[1]}"), TSR_OK, "ReduceProd"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsr_code rc = doc11(cases[i].ver, cases[i].ins, cases[i].outs, cases[i].inits, cases[i].nodes, msg);
        CHECK(rc == cases[i].want, "%s: got %s (%s)", cases[i].what, tsr_code_name(rc), msg);
    }
    {
        /* Concat: 64 inputs accepted (output [128, 3]), 65 refused by the schema step */
        char ins[600], node[800], outs[128];
        int k, len = snprintf(ins, sizeof ins, "[\"x\"");
        for (k = 1; k < 64; k++)
            len += snprintf(ins + len, sizeof ins - (size_t)len, ",\"x\"");
        snprintf(ins + len, sizeof ins - (size_t)len, "]");
        snprintf(node, sizeof node, NODE("Concat", "%s", "{\"axis\":0}"), ins);
        CHECK(doc11("1.1", XF, YF("[128,3]"), "", node, msg) == TSR_OK, "Concat of 64 inputs: %s", msg);
        snprintf(ins + len, sizeof ins - (size_t)len, ",\"x\"]");
        snprintf(node, sizeof node, NODE("Concat", "%s", "{\"axis\":0}"), ins);
        snprintf(outs, sizeof outs, YF("[130,3]"));
        CHECK(doc11("1.1", XF, outs, "", node, msg) == TSR_E_SCHEMA && strstr(msg, "1 to 64 inputs"),
              "Concat of 65 inputs: %s", msg);
    }
    CHECK(doc11("1.0", XF, YF("[2,3]"), "", NODE("Greater", "[\"x\",\"x\"]", "{}"), msg) == TSR_E_VERSION &&
          strstr(msg, "Greater needs format 1.1") && strstr(msg, "stamped 1.0"), "E_VERSION message: %s", msg);
    CHECK(doc11("1.1", XF, YF("[2,3]"), KI("[1,2]"), NODE("Add", "[\"x\",\"k\"]", "{}"), msg) == TSR_E_SHAPE &&
          strstr(msg, "operand 1 is int32, expected float32"), "dtype message: %s", msg);
}

/* MatMul with transpose_b of a B that is not an initializer: B is transposed
 * into run-time scratch (the attribute struct's load-time pointer stays
 * NULL; the arena is malloc'ed, so under ASan it starts as garbage). */
static void test_matmul_tb_input(void)
{
    const char *doc =
        "{\"format\":\"tessera\",\"format_version\":\"1.0\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
        "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1,3]},"
        "{\"name\":\"w\",\"dtype\":\"float32\",\"shape\":[2,3]}],"
        "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":[1,2]}],\"initializers\":[],"
        "\"nodes\":[{\"op\":\"MatMul\",\"inputs\":[\"x\",\"w\"],\"outputs\":[\"y\"],\"attrs\":{\"transpose_b\":true}}]}}";
    float x[3] = {1, 2, 3}, w[6] = {1, 0, 0, 0, 1, 1};
    tsr_tensor in[2], out[1];
    tsr_model *m = NULL;
    tsr_error e;
    static double ws[256];
    size_t ws_len = 0;
    CHECK(tsr_model_load_alloc(doc, strlen(doc), &m, &e) == TSR_OK, "load: %s", e.message);
    memset(in, 0, sizeof in);
    in[0].name = "x", in[0].rank = 2, in[0].shape[0] = 1, in[0].shape[1] = 3, in[0].data = x;
    in[1].name = "w", in[1].rank = 2, in[1].shape[0] = 2, in[1].shape[1] = 3, in[1].data = w;
    CHECK(tsr_bind(m, in, 2, &ws_len, &e) == TSR_OK && ws_len <= sizeof ws, "bind");
    CHECK(tsr_run(m, in, 2, out, ws, sizeof ws, &e) == TSR_OK && out[0].data[0] == 1 && out[0].data[1] == 5,
          "x W^T with W an input");
    tsr_model_free(m);
}

/* Running an int32 model through the API: dtypes of inputs and outputs, the
 * arena of tsr_model_size exactly enough, Gather's run-time E_INPUT. */
static void test_run11(void)
{
    const char *doc =
        "{\"format\":\"tessera\",\"format_version\":\"1.1\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
        "\"graph\":{\"inputs\":[{\"name\":\"i\",\"dtype\":\"int32\",\"shape\":[\"n\"]}],"
        "\"outputs\":[{\"name\":\"g\",\"dtype\":\"float32\",\"shape\":[\"n\",2]},{\"name\":\"a\",\"dtype\":\"int32\",\"shape\":[\"n\"]}],"
        "\"initializers\":[{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[3,2],\"data\":[1,2,3,4,5,6]}],"
        "\"nodes\":[{\"name\":\"lookup\",\"op\":\"Gather\",\"inputs\":[\"W\",\"i\"],\"outputs\":[\"g\"]},"
        "{\"op\":\"ArgMax\",\"inputs\":[\"g\"],\"outputs\":[\"a\"],\"attrs\":{\"axis\":1}}]}}";
    size_t bytes = 0, ws_len = 0;
    tsr_error e;
    tsr_model *m = NULL;
    void *arena;
    static double ws[1024];
    int32_t idx[3] = {2, -3, 1};
    float fx[3] = {0, 0, 0};
    tsr_tensor in, out[2];
    CHECK(tsr_model_size(doc, strlen(doc), &bytes, &e) == TSR_OK, "size: %s", e.message);
    arena = malloc(bytes);
    CHECK(tsr_model_load(doc, strlen(doc), arena, bytes, &m, &e) == TSR_OK, "load in tsr_model_size bytes: %s", e.message);
    CHECK(tsr_model_input_dtype(m, 0) == TSR_INT32 && tsr_model_output_dtype(m, 0) == TSR_FLOAT32 &&
          tsr_model_output_dtype(m, 1) == TSR_INT32 && tsr_model_input_dtype(m, 1) == -1, "declared dtypes");
    memset(&in, 0, sizeof in);
    in.name = "i";
    in.rank = 1;
    in.shape[0] = 3;
    in.data = fx; /* float32 by default: the model declares int32 */
    CHECK(tsr_bind(m, &in, 1, &ws_len, &e) == TSR_E_INPUT && strstr(e.message, "dtype"), "dtype differs: %s", e.message);
    in.dtype = TSR_INT32;
    in.idata = idx;
    CHECK(tsr_run(m, &in, 1, out, ws, sizeof ws, &e) == TSR_OK, "run: %s", e.message);
    CHECK(out[0].dtype == TSR_FLOAT32 && out[0].data && !out[0].idata && out[1].dtype == TSR_INT32 && out[1].idata &&
          !out[1].data, "output dtypes and pointers");
    CHECK(out[0].data[0] == 5 && out[0].data[1] == 6 && out[0].data[2] == 1 && out[0].data[5] == 4, "gather rows");
    CHECK(out[1].idata[0] == 1 && out[1].idata[2] == 1, "argmax");
    idx[1] = 3;
    memset(out, 0, sizeof out);
    CHECK(tsr_run(m, &in, 1, out, ws, sizeof ws, &e) == TSR_E_INPUT && strstr(e.message, "lookup") &&
          strstr(e.message, "index 3") && strstr(e.message, "[-3, 2]"), "index out of range at run time: %s", e.message);
    CHECK(!out[0].name && !out[0].data && !out[1].idata, "no outputs after a run-time error");
    free(arena);
}

/* MatMul (SPEC 7.1) against the literal definition: random shapes around
 * the SIMD block sizes (m, n not multiples of the block, k across the k-chunk
 * boundary, k = 1, n below one vector), sparse/binary A with +0/-0, inf and
 * NaN in B (skipped when the A term is zero), all four transpose forms. B is
 * in turn dense in inf/NaN, all finite (the packed kernel's blocks, which
 * rely on zero terms adding +-0 to a sum that is never -0), or finite but
 * for one element (one panel takes the per-row skip, the others the
 * blocks). */
static uint32_t mm_rng = 12345u;
static uint32_t mm_next(void)
{
    mm_rng = mm_rng * 1664525u + 1013904223u;
    return mm_rng >> 8;
}

/* tsr_k_matmul on path index p of the tests (-1: the default, by CPU);
 * 0 when this build or CPU cannot take that path */
static int mm_on_path(int32_t p, const float *a, const float *b, float *c, int32_t m, int32_t k, int32_t n,
                      int32_t ta, int32_t tb)
{
    if (p < 0) {
        tsr_k_matmul(a, b, c, m, k, n, ta, tb);
        return 1;
    }
#if defined(TSR_K_DISPATCH)
    return tsr_k_matmul_path(a, b, c, m, k, n, ta, tb, kpaths[p]);
#else
    return 0;
#endif
}

static void test_matmul(void)
{
    static const int32_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 130};
    static const int32_t kdims[] = {0, 1, 3, 8, 255, 256, 257, 600};
    const int32_t nd = (int32_t)(sizeof dims / sizeof dims[0]), nk = (int32_t)(sizeof kdims / sizeof kdims[0]);
    int32_t iter, bad = 0, total = 0, p, runs[4] = {0, 0, 0, 0}, finite_dense = 0;
    float *a = (float *)malloc(130 * 600 * 4), *b = (float *)malloc(600 * 130 * 4);
    float *c = (float *)malloc(130 * 130 * 4), *ref = (float *)malloc(130 * 130 * 4);
    for (iter = 0; iter < 300; iter++) {
        int32_t m = dims[mm_next() % nd], n = dims[mm_next() % nd], k = kdims[mm_next() % nk];
        int32_t ta = (int32_t)(mm_next() & 1), tb = iter % 5 == 4 ? 1 : 0, dens = (int32_t)(mm_next() % 4);
        int32_t i, j, kk, bin = (int32_t)(mm_next() & 1);
        for (i = 0; i < m * k; i++) {
            uint32_t r = mm_next();
            float v = bin ? 1.0f : (float)(int32_t)(r % 2001u - 1000u) / 64.0f;
            /* density 100%, 50%, 15%, 0% */
            int zero = dens == 0 ? 0 : dens == 1 ? (r >> 12) % 2 == 0 : dens == 2 ? (r >> 12) % 100 >= 15 : 1;
            a[i] = zero ? ((r >> 20) & 1 ? -0.0f : 0.0f) : v;
            if (!bin && (r >> 21) % 97 == 0)
                a[i] = (r >> 22) & 1 ? (float)INFINITY : (float)NAN;
        }
        for (i = 0; i < k * n; i++) {
            uint32_t r = mm_next();
            b[i] = (float)(int32_t)(r % 2001u - 1000u) / 1024.0f + (float)(r % 7u) * 1e-7f;
            if (iter % 3 == 0 && (r >> 12) % 61 == 0)
                b[i] = (r >> 20) % 3 == 0 ? (float)NAN : (r >> 20) % 3 == 1 ? (float)INFINITY : -(float)INFINITY;
        }
        if (iter % 3 == 2 && k * n > 0)
            b[mm_next() % (uint32_t)(k * n)] = (mm_next() & 1) ? (float)NAN : -(float)INFINITY;
        finite_dense += iter % 3 == 1 && m >= 6 && dens <= 1 && k > 0;
        /* the literal SPEC 7.1 loop */
        for (i = 0; i < m; i++) {
            for (j = 0; j < n; j++) {
                float acc = 0.0f;
                for (kk = 0; kk < k; kk++) {
                    float av = ta ? a[kk * m + i] : a[i * k + kk];
                    float bv = tb ? b[j * k + kk] : b[kk * n + j];
                    if (av == 0.0f)
                        continue;
                    acc = acc + av * bv;
                }
                ref[i * n + j] = acc;
            }
        }
        /* p = -1: tsr_k_matmul (the default path); then every path */
        for (p = -1; p < 3; p++) {
            if (!mm_on_path(p, a, b, c, m, k, n, ta, tb))
                continue;
            runs[p + 1]++;
            for (i = 0; i < m * n; i++) {
                float want = ref[i], got = c[i];
                total++;
                if (!(bits(want) == bits(got) || (want != want && got != got))) {
                    if (bad++ < 5)
                        printf("matmul path %s m=%d k=%d n=%d ta=%d tb=%d [%d,%d]: %08x vs %08x\n", kpath_name(p),
                               (int)m, (int)k, (int)n, (int)ta, (int)tb, (int)(i / n), (int)(i % n),
                               (unsigned)bits(got), (unsigned)bits(want));
                }
            }
        }
    }
    CHECK(bad == 0, "matmul vs sequential reference: %d of %d elements differ", (int)bad, (int)total);
    CHECK(runs[0] == 300, "tsr_k_matmul ran on every shape");
    CHECK(finite_dense >= 30, "%d shapes with a finite B and a dense A of 6 rows or more", (int)finite_dense);
#if defined(TSR_K_DISPATCH)
    printf("matmul: %d shapes; by path:", 300);
    for (p = 0; p < NKPATHS; p++)
        printf(" %s %d", kpath_names[p], (int)runs[p + 1]);
    printf(" (tb != 0 and paths the CPU lacks are skipped)\n");
    CHECK(runs[1] == 240, "baseline path ran on every tb == 0 shape");
    CHECK(!tsr_k_matmul_path(a, b, c, 1, 1, 1, 0, 0, 3) && !tsr_k_matmul_path(a, b, c, 1, 1, 1, 0, 0, -1),
          "unknown matmul paths refused");
#endif
    free(a);
    free(b);
    free(c);
    free(ref);
}

/* MatMul with a sparse A' of whole row groups and n a multiple of 128: the
 * shapes where the AVX2 path's list kernel copies each strip of B into a
 * block (64 or more rows of A' at a time), plus the rows left after the last
 * group, groups cut by the row cap (m > 256) and by a full pool of lists
 * (36% nonzero), k over several chunks and a partial one, both layouts of A,
 * binary and valued terms, and inf/NaN in B (a zero term is skipped, so B's
 * inf never meets it). Every path against the literal SPEC 7.1 loop. */
static void test_matmul_sparse_groups(void)
{
    /* m, k, n, percent of nonzero terms */
    static const int32_t shapes[][4] = {{64, 64, 128, 20}, {130, 100, 256, 20}, {200, 600, 128, 20},
                                        {64, 8, 384, 20},  {300, 100, 256, 20}, {330, 70, 128, 36}};
    enum { NS = sizeof shapes / sizeof shapes[0] };
    int32_t s, bad = 0, total = 0, p, ran = 0;
    float *a = (float *)malloc(200 * 600 * 4), *b = (float *)malloc(600 * 384 * 4);
    float *c = (float *)malloc(300 * 384 * 4), *ref = (float *)malloc(300 * 384 * 4);
    for (s = 0; s < 2 * NS; s++) {
        const int32_t m = shapes[s % NS][0], k = shapes[s % NS][1], n = shapes[s % NS][2], ta = s >= NS;
        int32_t i, j, kk;
        for (i = 0; i < m * k; i++) {
            uint32_t r = mm_next();
            a[i] = (r >> 12) % 100 >= (uint32_t)shapes[s % NS][3] ? ((r >> 20) & 1 ? -0.0f : 0.0f)
                   : (s + s / NS) % 2 ? 1.0f : (float)(int32_t)(r % 2001u - 1000u) / 64.0f;
        }
        for (i = 0; i < k * n; i++) {
            uint32_t r = mm_next();
            b[i] = (float)(int32_t)(r % 2001u - 1000u) / 1024.0f + (float)(r % 7u) * 1e-7f;
            if ((r >> 12) % 211 == 0)
                b[i] = (r >> 20) & 1 ? (float)NAN : -(float)INFINITY;
        }
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {
                float acc = 0.0f;
                for (kk = 0; kk < k; kk++) {
                    float av = ta ? a[kk * m + i] : a[i * k + kk];
                    if (av != 0.0f)
                        acc = acc + av * b[kk * n + j];
                }
                ref[i * n + j] = acc;
            }
        for (p = -1; p < NKPATHS; p++) {
            if (!mm_on_path(p, a, b, c, m, k, n, ta, 0))
                continue;
            ran++;
            for (i = 0; i < m * n; i++) {
                total++;
                if (!(bits(ref[i]) == bits(c[i]) || (ref[i] != ref[i] && c[i] != c[i])) && bad++ < 5)
                    printf("matmul groups path %s m=%d k=%d n=%d ta=%d [%d]: %08x vs %08x\n", kpath_name(p),
                           (int)m, (int)k, (int)n, (int)ta, (int)i, (unsigned)bits(c[i]), (unsigned)bits(ref[i]));
            }
        }
    }
    CHECK(bad == 0 && ran >= 2 * NS, "matmul, sparse row groups: %d of %d elements differ (%d runs)", (int)bad,
          (int)total, (int)ran);
    free(a);
    free(b);
    free(c);
    free(ref);
}

/* tsr_k_exp / tsr_k_sigmoid (the vector kernels) against the scalar
 * functions, bit for bit, on every path: a few million bit patterns spread
 * over all 2^32, every subnormal and value near 0 in steps, the ranges
 * around the clamps and the subnormal results of Sigmoid, inf, NaNs (quiet,
 * signalling, with payloads). Arrays of odd length at odd offsets, so the
 * vector loops and the scalar tails both run. */
static void test_exp_sigmoid(void)
{
    enum { CH = 4093, N = 1 << 22 };
    static float x[CH + 1], ye[CH + 1], ys[CH + 1], re[CH], rs[CH];
    static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                                       0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7FA00000u, 0x7FFFFFFFu,
                                       0xFFFFFFFFu, 0x7FC12345u, 0x00000001u, 0x80000001u, 0x007FFFFFu,
                                       0x807FFFFFu, 0x00800000u, 0x80800000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
                                       0xC2D00000u, 0xC2CFFFFFu, 0xC2D00001u, 0x42B20000u, 0x42B1FFFFu,
                                       0x42B20001u, 0x42B17218u, 0xC2AEAC50u, 0xC2AF5919u, 0x3F800000u};
    int32_t npaths = 0, p, got_path[4] = {0, 0, 0, 0}, cnt;
    uint32_t idx = 0, bad_e = 0, bad_s = 0, total = 0;
    const uint32_t nspec = (uint32_t)(sizeof special / sizeof special[0]);
    while (idx < N) {
        int32_t off = (int32_t)(idx / CH % 2), i; /* odd offsets every other chunk */
        cnt = CH + off;
        for (i = 0; i < cnt - off; i++, idx++) {
            uint32_t u;
            if (idx < nspec)
                u = special[idx];
            else if (idx < (1u << 20)) /* ranges, 2^18 values each */
                u = (idx & 0x3FFFFu) + ((idx >> 18) == 0 ? 0x00000000u : (idx >> 18) == 1 ? 0x80700000u
                                      : (idx >> 18) == 2 ? 0xC2A00000u : 0x42A80000u);
            else /* spread over all patterns (odd multiplier: distinct) */
                u = idx * 0x9E3779B1u;
            memcpy(&x[off + i], &u, 4);
        }
        for (i = 0; i < cnt - off; i++) {
            re[i] = tsr_k_exp1(x[off + i]);
            rs[i] = tsr_k_sigmoid1(x[off + i]);
        }
        npaths = 0;
        for (p = -1; p < 3; p++) {
            if (!kpath_use(p))
                continue;
            tsr_k_exp(x + off, ye + off, cnt - off);
            tsr_k_sigmoid(x + off, ys + off, cnt - off);
            got_path[p + 1] = 1;
            npaths++;
            for (i = 0; i < cnt - off; i++) {
                total++;
                if (bits(ye[off + i]) != bits(re[i]) && bad_e++ < 5)
                    printf("exp path %s x=%08x: %08x vs %08x\n", kpath_name(p), (unsigned)bits(x[off + i]),
                           (unsigned)bits(ye[off + i]), (unsigned)bits(re[i]));
                if (bits(ys[off + i]) != bits(rs[i]) && bad_s++ < 5)
                    printf("sigmoid path %s x=%08x: %08x vs %08x\n", kpath_name(p), (unsigned)bits(x[off + i]),
                           (unsigned)bits(ys[off + i]), (unsigned)bits(rs[i]));
            }
        }
    }
    /* every length up to 40, in place (y == x): the AVX2 Sigmoid takes two
     * vectors per step, the last one again when one is left */
    for (cnt = 0; cnt <= 40; cnt++) {
        for (p = -1; p < 3; p++) {
            int32_t i;
            if (!kpath_use(p))
                continue;
            for (i = 0; i < cnt; i++)
                x[i] = (float)(i * 37 % 41 - 20) * 0.375f;
            tsr_k_sigmoid(x, x, cnt);
            for (i = 0; i < cnt; i++) {
                total++;
                if (bits(x[i]) != bits(tsr_k_sigmoid1((float)(i * 37 % 41 - 20) * 0.375f)) && bad_s++ < 5)
                    printf("sigmoid in place path %s n=%d [%d]\n", kpath_name(p), (int)cnt, (int)i);
            }
        }
    }
#if defined(TSR_K_DISPATCH)
    tsr_k_set_path(-1);
    CHECK(!tsr_k_set_path(3) && !tsr_k_set_path(-2), "unknown paths refused");
    printf("exp/sigmoid: %u inputs x %d calls (default +", (unsigned)idx, (int)npaths);
    for (p = 0; p < NKPATHS; p++)
        if (got_path[p + 1])
            printf(" %s", kpath_names[p]);
    printf(")\n");
#endif
    CHECK(bad_e == 0 && bad_s == 0, "tsr_k_exp/tsr_k_sigmoid vs scalar: %u / %u of %u differ", (unsigned)bad_e,
          (unsigned)bad_s, (unsigned)total);
#if defined(TSR_K_DISPATCH)
    CHECK(got_path[0] && got_path[1], "default and baseline paths ran");
#else
    CHECK(got_path[0] && npaths == 1, "default path ran");
#endif
}

/* ---- Pow (SPEC 7.10): C99 Annex F's special cases bit for bit, exact powers,
 * broadcasting and in place through tsr_k_binary, the version rule ---- */
static void test_pow(void)
{
    const float inf = fbits(0x7F800000u), nan = fbits(0x7FC00000u);
    /* base, exponent, result; a NaN result means any NaN */
    static const uint32_t cases[][3] = {
        {0x7FC00000u, 0x00000000u, 0x3F800000u}, /* pow(NaN, +0) = 1 */
        {0xFF800000u, 0x80000000u, 0x3F800000u}, /* pow(-inf, -0) = 1 */
        {0x3F800000u, 0x7FC00000u, 0x3F800000u}, /* pow(1, NaN) = 1 */
        {0xBF800000u, 0x7F800000u, 0x3F800000u}, /* pow(-1, +inf) = 1 */
        {0xBF800000u, 0xFF800000u, 0x3F800000u}, /* pow(-1, -inf) = 1 */
        {0x80000000u, 0xC0400000u, 0xFF800000u}, /* pow(-0, -3) = -inf */
        {0x00000000u, 0xC0400000u, 0x7F800000u}, /* pow(+0, -3) = +inf */
        {0x80000000u, 0xC0000000u, 0x7F800000u}, /* pow(-0, -2) = +inf */
        {0x80000000u, 0xBF000000u, 0x7F800000u}, /* pow(-0, -0.5) = +inf */
        {0x80000000u, 0xFF800000u, 0x7F800000u}, /* pow(-0, -inf) = +inf */
        {0x80000000u, 0x40400000u, 0x80000000u}, /* pow(-0, 3) = -0 */
        {0x80000000u, 0x40000000u, 0x00000000u}, /* pow(-0, 2) = +0 */
        {0x80000000u, 0x4B000001u, 0x80000000u}, /* pow(-0, 2^23 + 1) = -0: odd */
        {0x80000000u, 0x4B800000u, 0x00000000u}, /* pow(-0, 2^24) = +0: even */
        {0xC0000000u, 0x3F000000u, 0x7FC00000u}, /* pow(-2, 0.5) = NaN */
        {0x3F000000u, 0xFF800000u, 0x7F800000u}, /* pow(0.5, -inf) = +inf */
        {0x3F000000u, 0x7F800000u, 0x00000000u}, /* pow(0.5, +inf) = +0 */
        {0xC0000000u, 0xFF800000u, 0x00000000u}, /* pow(-2, -inf) = +0 */
        {0xC0000000u, 0x7F800000u, 0x7F800000u}, /* pow(-2, +inf) = +inf */
        {0xFF800000u, 0xC0400000u, 0x80000000u}, /* pow(-inf, -3) = -0 */
        {0xFF800000u, 0xC0000000u, 0x00000000u}, /* pow(-inf, -2) = +0 */
        {0xFF800000u, 0x40400000u, 0xFF800000u}, /* pow(-inf, 3) = -inf */
        {0xFF800000u, 0x3F000000u, 0x7F800000u}, /* pow(-inf, 0.5) = +inf */
        {0x7F800000u, 0xBF800000u, 0x00000000u}, /* pow(+inf, -1) = +0 */
        {0x40000000u, 0x7FC00000u, 0x7FC00000u}, /* pow(2, NaN) = NaN */
        {0xC0000000u, 0x40400000u, 0xC1000000u}, /* pow(-2, 3) = -8 */
        {0x40000000u, 0x41200000u, 0x44800000u}, /* pow(2, 10) = 1024 */
        {0x41100000u, 0x3F000000u, 0x40400000u}, /* pow(9, 0.5) = 3 */
        {0x40000000u, 0xC3150000u, 0x00000001u}, /* pow(2, -149): the smallest subnormal */
        {0x40000000u, 0xC3158000u, 0x00000001u}, /* pow(2, -149.5) rounds up to it (above half of it) */
        {0x40000000u, 0xC3160000u, 0x00000000u}, /* pow(2, -150): the tie, to even: +0 */
        {0x40000000u, 0xC3168000u, 0x00000000u}, /* pow(2, -150.5) = +0 */
        {0x40000000u, 0x43000000u, 0x7F800000u}, /* pow(2, 128) = +inf */
        {0xC0000000u, 0x4B000001u, 0xFF800000u}, /* pow(-2, 2^23 + 1) = -inf */
        {0x00000001u, 0x3F800000u, 0x00000001u}, /* pow(2^-149, 1) exact */
    };
    float a[6] = {-2.0f, 0.5f, 3.0f, 4.0f, -1.0f, 0.0f}, b[3] = {2.0f, -1.0f, 0.5f}, y[6];
    int32_t shape[2] = {2, 3}, sa[2] = {3, 1}, sb[2] = {0, 1};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float r = tsr_k_pow1(fbits(cases[i][0]), fbits(cases[i][1]));
        float want = fbits(cases[i][2]);
        CHECK(want != want ? r != r : bits(r) == cases[i][2], "pow(0x%08x, 0x%08x) = 0x%08x, want 0x%08x",
              (unsigned)cases[i][0], (unsigned)cases[i][1], (unsigned)bits(r), (unsigned)cases[i][2]);
    }
    tsr_k_binary(TSR_K_POW, a, b, y, 2, shape, sa, sb);
    CHECK(y[0] == 4 && y[1] == 2 && y[2] == tsr_k_pow1(3.0f, 0.5f) && y[3] == 16 && y[4] == -1 && y[5] == 0,
          "broadcast pow");
    tsr_k_binary_flat(TSR_K_POW, a, b, a, 3, 1, 0); /* in place, scalar exponent 2 */
    CHECK(a[0] == 4 && a[1] == 0.25f && a[2] == 9, "pow in place");
    CHECK(tsr_k_pow1(inf, nan) != tsr_k_pow1(inf, nan), "pow(inf, NaN) is NaN");
    CHECK(model("1.1", "[2]", "[2]", "{\"name\":\"e\",\"dtype\":\"float32\",\"shape\":[],\"data\":[3]}",
                "{\"op\":\"Pow\",\"inputs\":[\"x\",\"e\"],\"outputs\":[\"y\"]}") == TSR_OK, "Pow in 1.1");
    CHECK(model("1.0", "[2]", "[2]", "{\"name\":\"e\",\"dtype\":\"float32\",\"shape\":[],\"data\":[3]}",
                "{\"op\":\"Pow\",\"inputs\":[\"x\",\"e\"],\"outputs\":[\"y\"]}") == TSR_E_VERSION,
          "Pow in a 1.0 file: E_VERSION");
    CHECK(model("1.1", "[2]", "[2]", "", "{\"op\":\"Pow\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}") == TSR_E_SCHEMA,
          "Pow of one operand");
}

/* ---- format 1.2: Conv2D, MaxPool2D, AveragePool2D ---- */

/* SPEC 7.11 word for word (every tap visited, bounds tested per tap). */
static void conv_ref(const float *x, const float *w, const float *b, float *y, const int32_t *g)
{
    int32_t N = g[0], C = g[1], H = g[2], W = g[3], M = g[4], kH = g[5], kW = g[6], Ho = g[16], Wo = g[17];
    int32_t Cg = C / g[15], Mg = M / g[15], n, m, oh, ow, c, i, j;
    for (n = 0; n < N; n++)
        for (m = 0; m < M; m++)
            for (oh = 0; oh < Ho; oh++)
                for (ow = 0; ow < Wo; ow++) {
                    float acc = 0.0f;
                    for (c = 0; c < Cg; c++)
                        for (i = 0; i < kH; i++)
                            for (j = 0; j < kW; j++) {
                                int32_t ih = oh * g[7] - g[11] + i * g[9], iw = ow * g[8] - g[12] + j * g[10];
                                float xv;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                xv = x[((n * C + (m / Mg) * Cg + c) * H + ih) * W + iw];
                                if (xv == 0.0f)
                                    continue;
                                acc = acc + xv * w[((m * Cg + c) * kH + i) * kW + j];
                            }
                    y[((n * M + m) * Ho + oh) * Wo + ow] = b ? acc + b[m] : acc;
                }
}

/* SPEC 7.12 word for word; mode 0 max, 1 average (visited), 2 average (kH kW). */
static void pool_ref(const float *x, float *y, const int32_t *g, int mode)
{
    int32_t H = g[2], W = g[3], kH = g[4], kW = g[5], Ho = g[12], Wo = g[13], p, oh, ow, i, j;
    for (p = 0; p < g[0] * g[1]; p++)
        for (oh = 0; oh < Ho; oh++)
            for (ow = 0; ow < Wo; ow++) {
                float acc = mode ? 0.0f : -INFINITY;
                int32_t cnt = 0;
                for (i = 0; i < kH; i++)
                    for (j = 0; j < kW; j++) {
                        int32_t ih = oh * g[6] - g[8] + i, iw = ow * g[7] - g[9] + j;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                            continue;
                        acc = mode ? acc + x[(p * H + ih) * W + iw] : tsr_k_max1(acc, x[(p * H + ih) * W + iw]);
                        cnt++;
                    }
                y[(p * Ho + oh) * Wo + ow] = mode ? acc / (float)(mode == 2 ? kH * kW : cnt) : acc;
            }
}

/* Same bits, any NaN equal to any NaN. */
static int32_t count_diff(const float *a, const float *b, int32_t n)
{
    int32_t i, bad = 0;
    for (i = 0; i < n; i++)
        bad += !(bits(a[i]) == bits(b[i]) || (a[i] != a[i] && b[i] != b[i]));
    return bad;
}

/* A value for the random cases: mostly small integers over 8 (exact
 * products), with +0, -0, and (when `special`) inf and NaN. */
static float conv_val(int special)
{
    uint32_t r = mm_next() % 64;
    if (r < 10)
        return 0.0f;
    if (r < 14)
        return -0.0f;
    if (special && r == 14)
        return INFINITY;
    if (special && r == 15)
        return -INFINITY;
    if (special && r == 16)
        return NAN;
    return (float)((int32_t)(mm_next() % 2001) - 1000) / 7.0f;
}

static void test_conv_hand(void)
{
    /* 1 x 1 x 3 x 3 input 1..9, 2 x 2 kernel of ones: window sums, then + 0.5 */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f}, y[16];
    int32_t g[18] = {1, 1, 3, 3, 1, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 2, 2};
    int32_t pg[14] = {1, 1, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 2, 2};
    tsr_k_conv2d(x, w, b, y, g);
    CHECK(y[0] == 12.5f && y[1] == 16.5f && y[2] == 24.5f && y[3] == 28.5f, "conv 2x2 ones + 0.5: %g %g %g %g", y[0],
          y[1], y[2], y[3]);
    /* zero input against inf / NaN weights: skipped; inf input against a zero weight: NaN */
    x[0] = 0.0f, x[1] = -0.0f, w[0] = INFINITY, w[1] = NAN;
    tsr_k_conv2d(x, w, NULL, y, g);
    CHECK(y[0] == 4 * 1 + 5 * 1 && y[1] != y[1], "conv: zero inputs skip inf/NaN weights (%g), NaN weight meets 2 (%g)",
          y[0], y[1]);
    x[0] = INFINITY, w[0] = 0.0f, w[1] = 1.0f;
    tsr_k_conv2d(x, w, NULL, y, g);
    CHECK(y[0] != y[0], "conv: inf input times zero weight is NaN");
    /* -0: products -0 only: the sum stays +0; a -0 bias keeps +0 */
    {
        float xn[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1}, wz[4] = {0, 0, 0, 0}, bz[1] = {-0.0f};
        tsr_k_conv2d(xn, wz, bz, y, g);
        CHECK(bits(y[0]) == 0 && bits(y[3]) == 0, "conv: sum of -0 products + -0 bias is +0");
    }
    /* pooling, pads 1 on top and left, 2x2 windows stride 2 over 3x3: windows
     * {1}, {2,3}, {4,7}, {5,6,8,9} */
    {
        float xp[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        tsr_k_maxpool2d(xp, y, pg);
        CHECK(y[0] == 1 && y[1] == 3 && y[2] == 7 && y[3] == 9, "maxpool with pads");
        tsr_k_avgpool2d(xp, y, pg, 0);
        CHECK(y[0] == 1 && y[1] == 2.5f && y[2] == 5.5f && y[3] == 7, "avgpool, pads not counted");
        tsr_k_avgpool2d(xp, y, pg, 1);
        CHECK(y[0] == 0.25f && y[1] == 1.25f && y[2] == 2.75f && y[3] == 7, "avgpool, pads counted");
        xp[4] = NAN, xp[0] = -0.0f;
        tsr_k_maxpool2d(xp, y, pg);
        CHECK(bits(y[0]) == 0x80000000u && y[3] != y[3], "maxpool: a lone -0 stays -0, NaN wins");
    }
}

/* Random geometries against conv_ref / pool_ref, every kernel path. */
static void test_conv_random(void)
{
    enum { CAP = 1 << 16 };
    static float x[CAP], w[CAP], b[64], y[CAP], r[CAP], ws[1 << 20];
    int32_t t, bad = 0, badp = 0, runs = 0, runsp = 0, fast = 0;
    for (t = 0; t < 400; t++) {
        int32_t g[18], pg[14], d, grp = 1 + (int32_t)(mm_next() % 3), special = t % 3 == 0;
        int32_t N = 1 + (int32_t)(mm_next() % 3), Cg = 1 + (int32_t)(mm_next() % 3), Mg = 1 + (int32_t)(mm_next() % 6);
        int32_t p, nx, nw, ny, np;
        int64_t need;
        if (t % 7 == 3) /* more channels than one 6-channel block, batch 1 (the arrays' size) */
            Mg = 7 + (int32_t)(mm_next() % 8), N = 1;
        g[0] = N, g[1] = Cg * grp, g[4] = Mg * grp, g[15] = grp;
        for (d = 0; d < 2; d++) {
            int32_t in = 1 + (int32_t)(mm_next() % 19), k = 1 + (int32_t)(mm_next() % 4);
            int32_t dil = t % 4 == 1 ? 1 + (int32_t)(mm_next() % 3) : 1, ext = dil * (k - 1) + 1;
            int32_t p0 = (int32_t)(mm_next() % 3), p1 = (int32_t)(mm_next() % 3);
            g[2 + d] = in, g[5 + d] = k, g[9 + d] = dil, g[11 + d] = p0, g[13 + d] = p1;
            g[7 + d] = t % 5 == 2 ? 1 + (int32_t)(mm_next() % 3) : 1;
            if (in + p0 + p1 < ext)
                g[2 + d] = ext; /* keep the padded size above the kernel extent */
            g[16 + d] = (g[2 + d] + p0 + p1 - ext) / g[7 + d] + 1;
        }
        nx = g[0] * g[1] * g[2] * g[3], nw = g[4] * Cg * g[5] * g[6], ny = g[0] * g[4] * g[16] * g[17];
        for (d = 0; d < nx; d++)
            x[d] = conv_val(special);
        for (d = 0; d < nw; d++)
            w[d] = conv_val(special);
        for (d = 0; d < g[4]; d++)
            b[d] = conv_val(0);
        conv_ref(x, w, t % 2 ? b : NULL, r, g);
        tsr_k_conv2d(x, w, t % 2 ? b : NULL, y, g);
        bad += count_diff(y, r, ny) > 0;
#if defined(TSR_K_DISPATCH)
        need = tsr_k_conv2d_ws_floats(g);
        fast += need > 0;
        for (p = -1; p < NKPATHS && need <= (int64_t)(sizeof ws / sizeof ws[0]); p++) {
            if (!kpath_use(p))
                continue;
            memset(y, 0xFF, sizeof(float) * (size_t)ny);
            tsr_k_conv2d_ws(x, w, t % 2 ? b : NULL, y, g, ws);
            if (count_diff(y, r, ny) && bad++ < 5)
                printf("conv path %s case %d differs\n", kpath_name(p), (int)t);
            runs++;
        }
        tsr_k_set_path(-1);
#else
        (void)need, (void)p, (void)ws;
#endif
        /* the same input through the pools (kernel = the conv kernel, pads clipped below it) */
        pg[0] = g[0], pg[1] = g[1], pg[2] = g[2], pg[3] = g[3], pg[4] = g[5], pg[5] = g[6], pg[6] = g[7], pg[7] = g[8];
        for (d = 0; d < 4; d++)
            pg[8 + d] = g[11 + d] < pg[4 + d % 2] ? g[11 + d] : pg[4 + d % 2] - 1;
        for (d = 0; d < 2; d++)
            pg[12 + d] = (pg[2 + d] + pg[8 + d] + pg[10 + d] - pg[4 + d]) / pg[6 + d] + 1;
        if (pg[12] < 1 || pg[13] < 1)
            continue;
        np = pg[0] * pg[1] * pg[12] * pg[13];
        /* every kernel path (the library's vectorised pooling included) */
        for (p = -1; p < NKPATHS; p++) {
            int32_t bad0 = badp;
            if (!kpath_use(p))
                continue;
            pool_ref(x, r, pg, 0);
            tsr_k_maxpool2d(x, y, pg);
            badp += count_diff(y, r, np) > 0;
            pool_ref(x, r, pg, 1);
            tsr_k_avgpool2d(x, y, pg, 0);
            badp += count_diff(y, r, np) > 0;
            pool_ref(x, r, pg, 2);
            tsr_k_avgpool2d(x, y, pg, 1);
            badp += count_diff(y, r, np) > 0;
            if (badp > bad0 && bad0 < 5)
                printf("pool path %s case %d differs\n", kpath_name(p), (int)t);
            runsp++;
        }
#if defined(TSR_K_DISPATCH)
        tsr_k_set_path(-1);
#endif
    }
    CHECK(bad == 0, "Conv2D = SPEC 7.11 loop bit for bit on 400 random geometries, scalar and %d path runs "
          "(%d vectorised geometries; %d wrong)", (int)runs, (int)fast, (int)bad);
    CHECK(badp == 0, "MaxPool2D / AveragePool2D = SPEC 7.12 loop bit for bit, %d path runs (%d wrong)", (int)runsp,
          (int)badp);
#if defined(TSR_K_DISPATCH)
    CHECK(fast > 100 && runs > fast, "the vectorised Conv2D ran (%d geometries, %d runs)", (int)fast, (int)runs);
#endif
}

/* Fixed Conv2D geometries for the library's 6-channel block: the digits
 * CNN's layers (8 x 8 and 4 x 4 planes, sums stored straight into y with
 * the bias, rows of at most 8 copied by vectors, channel counts that leave
 * 4 and 2 of a last block of 6), rows of 2 and 4 (several per vector, or
 * one when the rows do not fill whole vectors), groups, dilation, one-sided
 * pads, planes that are not whole vectors (sums through the buffer) and
 * rows above 8;
 * each with NaN, +-inf and +-0 inputs under finite weights, and with inf
 * and NaN weights, with and without a bias, every path against conv_ref. */
static void test_conv_shapes(void)
{
    /* N, C, H, W, M, kH, kW, dh, dw, pt, pl, pb, pr, group */
    static const int32_t geo[][14] = {
        {3, 1, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},   {2, 16, 4, 4, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {2, 4, 4, 4, 14, 3, 3, 1, 1, 1, 1, 1, 1, 2},   {2, 3, 6, 6, 5, 3, 3, 1, 1, 0, 0, 0, 0, 1},
        {1, 2, 4, 4, 7, 3, 3, 2, 2, 2, 2, 2, 2, 1},    {2, 3, 2, 8, 9, 1, 3, 1, 1, 0, 2, 0, 0, 1},
        {2, 5, 3, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},    {1, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1},
        {2, 2, 7, 5, 13, 2, 3, 1, 2, 0, 1, 1, 2, 1},   {2, 3, 3, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {2, 3, 4, 2, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},    {1, 2, 4, 2, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1}};
    static float x[4096], w[8192], b[64], y[8192], r[8192], ws[1 << 16];
    int32_t t, v, p, d, bad = 0, runs = 0;
    for (t = 0; t < (int32_t)(sizeof geo / sizeof geo[0]); t++)
        for (v = 0; v < 4; v++) { /* v & 1: bias; v & 2: inf / NaN weights (else inputs) */
            int32_t g[18], nx, nw, ny;
            for (d = 0; d < 5; d++)
                g[d] = geo[t][d];
            g[5] = geo[t][5], g[6] = geo[t][6], g[7] = g[8] = 1, g[9] = geo[t][7], g[10] = geo[t][8];
            g[11] = geo[t][9], g[12] = geo[t][10], g[13] = geo[t][11], g[14] = geo[t][12], g[15] = geo[t][13];
            g[16] = g[2] + g[11] + g[13] - g[9] * (g[5] - 1);
            g[17] = g[3] + g[12] + g[14] - g[10] * (g[6] - 1);
            nx = g[0] * g[1] * g[2] * g[3], nw = g[4] * (g[1] / g[15]) * g[5] * g[6], ny = g[0] * g[4] * g[16] * g[17];
            for (d = 0; d < nx; d++)
                x[d] = conv_val(!(v & 2));
            for (d = 0; d < nw; d++)
                w[d] = conv_val(v & 2);
            for (d = 0; d < g[4]; d++)
                b[d] = conv_val(0);
            conv_ref(x, w, v & 1 ? b : NULL, r, g);
#if defined(TSR_K_DISPATCH)
            CHECK(tsr_k_conv2d_ws_floats(g) > 0 && tsr_k_conv2d_ws_floats(g) <= (int64_t)(sizeof ws / sizeof ws[0]),
                  "conv shape %d takes the vectorised path", (int)t);
            for (p = -1; p < NKPATHS; p++) {
                if (!kpath_use(p))
                    continue;
                memset(y, 0xFF, sizeof(float) * (size_t)ny);
                tsr_k_conv2d_ws(x, w, v & 1 ? b : NULL, y, g, ws);
                if (count_diff(y, r, ny) && bad++ < 5)
                    printf("conv shape %d variant %d path %s differs\n", (int)t, (int)v, kpath_name(p));
                runs++;
            }
            tsr_k_set_path(-1);
#else
            (void)p, (void)ny, (void)y, (void)ws;
#endif
        }
    CHECK(bad == 0, "Conv2D fixed geometries = SPEC 7.11 loop bit for bit, %d path runs (%d wrong)", (int)runs,
          (int)bad);
}

/* Relu (the library's vector loop and its scalar tail) = Maximum(x, +0) of
 * SPEC 7.2 on every length up to 3 vectors, with NaN, +-inf, +-0 and
 * subnormals. */
static void test_relu_specials(void)
{
    float x[50] = {0}, y[50];
    int32_t n, i, bad = 0;
    for (n = 0; n <= 50; n++) {
        for (i = 0; i < n; i++) {
            uint32_t r = mm_next() % 8;
            x[i] = r == 0 ? NAN : r == 1 ? -0.0f : r == 2 ? 0.0f : r == 3 ? -INFINITY : r == 4 ? 1e-45f
                 : r == 5 ? -1e-45f : conv_val(1);
        }
        tsr_k_relu(x, y, n);
        for (i = 0; i < n; i++) {
            float want = tsr_k_max1(x[i], 0.0f);
            bad += !(bits(y[i]) == bits(want) || (y[i] != y[i] && want != want));
        }
    }
    CHECK(bad == 0, "Relu = Maximum(x, +0) bit for bit on lengths 0..50 (%d wrong)", (int)bad);
}

/* + - * / through tsr_k_binary_flat (the library's vector loop and its
 * scalar tail) = the one binary32 operation per element, for dense and
 * repeated operands, in place too, on lengths 0..40 with NaN, inf, +-0 and
 * subnormals. */
static void test_binary_vec(void)
{
    float a[40] = {0}, b[40] = {0}, y[40], want;
    int32_t op, pat, n, i, bad = 0;
    for (i = 0; i < 40; i++) {
        uint32_t r = mm_next() % 8;
        a[i] = r == 0 ? NAN : r == 1 ? -0.0f : r == 2 ? INFINITY : r == 3 ? 1e-45f : conv_val(0);
        b[i] = r == 4 ? 0.0f : r == 5 ? -INFINITY : r == 6 ? 3e-39f : conv_val(0) + 0.25f;
    }
    a[0] = b[0] = -0.0f; /* the repeated operands: a -0 kept as -0 by the vector loop's broadcast */
    for (op = TSR_K_ADD; op <= TSR_K_DIV; op++)
        for (pat = 0; pat < 4; pat++) /* (sa, sb) = (1,1) (1,0) (0,1); 3: in place, y = a */
            for (n = 0; n <= 40; n++) {
                int32_t sa = pat != 2, sb = pat != 1;
                float *out = y;
                if (pat == 3) {
                    memcpy(y, a, sizeof a);
                    out = y;
                }
                tsr_k_binary_flat(op, pat == 3 ? y : a, b, out, n, sa, sb);
                for (i = 0; i < n; i++) {
                    float u = sa ? a[i] : a[0], v = sb ? b[i] : b[0];
                    want = op == TSR_K_ADD ? u + v : op == TSR_K_SUB ? u - v : op == TSR_K_MUL ? u * v : u / v;
                    bad += !(bits(out[i]) == bits(want) || (out[i] != out[i] && want != want));
                }
            }
    CHECK(bad == 0, "Add/Sub/Mul/Div flat = one binary32 operation per element, every stride pattern (%d wrong)",
          (int)bad);
}

/* Huge pads and kernels cost nothing beyond the window's input elements. */
static void test_pool_huge(void)
{
    float x[1] = {3.0f}, y[1];
    int32_t pg[14] = {1, 1, 1, 1, 65535, 65535, 65535, 65535, 65534, 65534, 65534, 65534, 1, 1};
    tsr_k_avgpool2d(x, y, pg, 1);
    CHECK(y[0] == 3.0f / (float)(65535.0 * 65535.0), "avgpool count 65535^2 rounded to float32 once");
    tsr_k_avgpool2d(x, y, pg, 0);
    CHECK(y[0] == 3.0f, "avgpool of one visited element");
}

/* MaxPool2D 2x2 stride 2 without pads on even planes (the library's
 * gather-free path), every kernel path against the SPEC 7.12 loop: narrow
 * rows, rows that are not whole vectors, rows of 4 and 8 (several row pairs
 * per vector) with row-pair counts that leave 1 to 3 pairs over, the widest rows it takes and wider ones it leaves,
 * with +-0, +-inf and NaN. */
static void test_pool_2x2(void)
{
    static float x[1 << 16], y[1 << 14], r[1 << 14];
    static const int32_t hw[][3] = {{2, 2, 1}, {8, 8, 256}, {4, 4, 300}, {28, 28, 20}, {10, 10, 60}, {6, 14, 50},
                                   {2, 512, 4}, {4, 1026, 2}, {7, 8, 30}, {8, 9, 30}, {12, 2, 700},
                                   {2, 8, 3}, {4, 4, 301}, {6, 4, 7}, {2, 4, 9}, {6, 8, 5}};
    int32_t t, p, d, bad = 0, runs = 0;
    for (t = 0; t < (int32_t)(sizeof hw / sizeof hw[0]); t++) {
        int32_t g[14] = {1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
        int32_t nx, ny;
        g[1] = hw[t][2], g[2] = hw[t][0], g[3] = hw[t][1];
        g[12] = (g[2] - 2) / 2 + 1, g[13] = (g[3] - 2) / 2 + 1;
        nx = g[1] * g[2] * g[3], ny = g[1] * g[12] * g[13];
        for (d = 0; d < nx; d++)
            x[d] = conv_val(t % 2 || t > 10);
        pool_ref(x, r, g, 0);
        for (p = -1; p < NKPATHS; p++) {
            if (!kpath_use(p))
                continue;
            memset(y, 0xFF, sizeof(float) * (size_t)ny);
            tsr_k_maxpool2d(x, y, g);
            if (count_diff(y, r, ny) && bad++ < 5)
                printf("2x2 pool path %s, %dx%d x %d differs\n", kpath_name(p), (int)g[2], (int)g[3], (int)g[1]);
            runs++;
        }
#if defined(TSR_K_DISPATCH)
        tsr_k_set_path(-1);
#endif
    }
    CHECK(bad == 0, "MaxPool2D 2x2 stride 2 = SPEC 7.12 loop bit for bit, %d path runs (%d wrong)", (int)runs, (int)bad);
}

#define X4(s) "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":" s "}"
#define CW "{\"name\":\"w\",\"dtype\":\"float32\",\"shape\":[2,1,3,3],\"data\":[1,2,3,4,5,6,7,8,9,9,8,7,6,5,4,3,2,1]}"
#define CB "{\"name\":\"b\",\"dtype\":\"float32\",\"shape\":[2],\"data\":[0.5,-1]}"
#define CNODE(attrs) NODE("Conv2D", "[\"x\",\"w\",\"b\"]", attrs)

static void test_models12(void)
{
    char msg[256];
    struct {
        const char *ver, *in, *out, *inits, *node;
        tsr_code want;
        const char *what;
    } c[] = {
        {"1.2", X4("[\"n\",1,5,5]"), YF("[\"n\",2,5,5]"), CW "," CB, CNODE("{\"pads\":[1,1,1,1]}"), TSR_OK, "conv"},
        {"1.1", X4("[\"n\",1,5,5]"), YF("[\"n\",2,5,5]"), CW "," CB, CNODE("{\"pads\":[1,1,1,1]}"), TSR_E_VERSION,
         "Conv2D in a 1.1 file"},
        {"1.2", X4("[\"n\",1,5,5]"), YF("[\"n\",2,3,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{}"), TSR_OK, "no bias"},
        {"1.2", X4("[\"n\",1,5,5]"), YF("[\"n\",2,2,2]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"strides\":[2,2]}"),
         TSR_OK, "strides"},
        {"1.2", X4("[\"n\",1,5,5]"), YF("[\"n\",2,1,1]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"dilations\":[2,2]}"),
         TSR_OK, "dilations"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"pads\":[1,1,1]}"),
         TSR_E_SCHEMA, "3 pads"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"pads\":[1,1,1,65536]}"),
         TSR_E_SCHEMA, "pad above 65535"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"strides\":[0,1]}"),
         TSR_E_SCHEMA, "stride 0"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"dilations\":[1]}"),
         TSR_E_SCHEMA, "one dilation"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"group\":0}"), TSR_E_SCHEMA,
         "group 0"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,5,5]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"group\":2}"), TSR_E_SHAPE,
         "group does not divide C"},
        {"1.2", X4("[1,2,5,5]"), YF("[1,2,3,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{}"), TSR_E_SHAPE,
         "W channels differ from C/group"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,3,3]"), CW "," W2, NODE("Conv2D", "[\"x\",\"w\",\"W\"]", "{}"), TSR_OK,
         "B of [M]"},
        {"1.2", X4("[1,1,5,5]"), YF("[1,2,3,3]"), CW ",{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[3],\"data\":[1,2,3]}",
         NODE("Conv2D", "[\"x\",\"w\",\"W\"]", "{}"), TSR_E_SHAPE, "B of 3 for M = 2"},
        {"1.2", X4("[1,5,5]"), YF("[1,2,3,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{}"), TSR_E_SHAPE, "X rank 3"},
        {"1.2", X4("[1,\"c\",5,5]"), YF("[1,2,3,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{}"), TSR_E_SHAPE,
         "symbolic C"},
        {"1.2", X4("[1,1,2,5]"), YF("[1,2,3,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{}"), TSR_E_SHAPE,
         "height below the kernel"},
        {"1.2", X4("[1,1,4,5]"), YF("[1,2,1,3]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"dilations\":[2,1]}"),
         TSR_E_SHAPE, "height below the dilated kernel"},
        {"1.2", X4("[1,1,8192,8192]"), YF("[1,2,8192,8192]"), CW, NODE("Conv2D", "[\"x\",\"w\"]", "{\"pads\":[1,1,1,1]}"),
         TSR_E_LIMIT, "output above 2^26 elements"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,3,3]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"strides\":[2,2]}"),
         TSR_OK, "maxpool"},
        {"1.1", X4("[\"n\",3,6,6]"), YF("[\"n\",3,3,3]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"strides\":[2,2]}"),
         TSR_E_VERSION, "MaxPool2D in a 1.1 file"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,3,3]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"strides\":[2,2]}"),
         TSR_E_SCHEMA, "kernel_shape missing"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,4,4]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"pads\":[2,0,0,0]}"),
         TSR_E_SCHEMA, "pad not below the kernel"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,5,5]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"kernel_shape\":[2,0]}"),
         TSR_E_SCHEMA, "kernel 0"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,5,5]"), "", NODE("MaxPool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"group\":1}"),
         TSR_E_SCHEMA, "group on a pool"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,7,7]"), "",
         NODE("AveragePool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"pads\":[1,1,1,1],\"count_include_pad\":true}"),
         TSR_OK, "avgpool"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,7,7]"), "",
         NODE("AveragePool2D", "[\"x\"]", "{\"kernel_shape\":[2,2],\"count_include_pad\":1}"), TSR_E_SCHEMA,
         "count_include_pad not a boolean"},
        {"1.2", X4("[\"n\",3,6,6]"), YF("[\"n\",3,7,7]"), "",
         NODE("AveragePool2D", "[\"x\"]", "{\"kernel_shape\":[7,2]}"), TSR_E_SHAPE, "pool kernel above the input"},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        tsr_code rc = doc11(c[i].ver, c[i].in, c[i].out, c[i].inits, c[i].node, msg);
        CHECK(rc == c[i].want, "%s: got %d (%s), want %d", c[i].what, (int)rc, msg, (int)c[i].want);
    }
}

/* A small CNN through tsr_run: conv (pads 1) -> relu -> maxpool 2 -> avgpool, against the kernels' loops. */
static void test_run12(void)
{
    const char *doc =
        "{\"format\":\"tessera\",\"format_version\":\"1.2\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
        "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"n\",1,5,5]}],"
        "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":[\"n\",2,2,2]}],"
        "\"initializers\":[" CW "," CB "],"
        "\"nodes\":[{\"op\":\"Conv2D\",\"inputs\":[\"x\",\"w\",\"b\"],\"outputs\":[\"c\"],\"attrs\":{\"pads\":[1,1,1,1]}},"
        "{\"op\":\"Relu\",\"inputs\":[\"c\"],\"outputs\":[\"r\"]},"
        "{\"op\":\"MaxPool2D\",\"inputs\":[\"r\"],\"outputs\":[\"p\"],\"attrs\":{\"kernel_shape\":[2,2],\"strides\":[2,2]}},"
        "{\"op\":\"AveragePool2D\",\"inputs\":[\"p\"],\"outputs\":[\"y\"],\"attrs\":{\"kernel_shape\":[2,2],\"strides\":[1,1],"
        "\"pads\":[1,1,0,0]}}]}}";
    static const float wv[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1}, bv[2] = {0.5f, -1};
    int32_t cg[18] = {3, 1, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5};
    int32_t mg[14] = {3, 2, 5, 5, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2}, ag[14] = {3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2};
    float x[75], c1[150], p1[24], want[24];
    tsr_model *m = NULL;
    tsr_error e;
    tsr_tensor in, out;
    size_t ws_len = 0;
    static double ws[1 << 14];
    int32_t i;
    for (i = 0; i < 75; i++)
        x[i] = i % 7 == 0 ? 0.0f : (float)(i % 11) - 4.5f;
    conv_ref(x, wv, bv, c1, cg);
    for (i = 0; i < 150; i++)
        c1[i] = c1[i] > 0 ? c1[i] : 0.0f;
    pool_ref(c1, p1, mg, 0);
    pool_ref(p1, want, ag, 1);
    CHECK(tsr_model_load_alloc(doc, strlen(doc), &m, &e) == TSR_OK, "load CNN: %s", e.message);
    memset(&in, 0, sizeof in);
    in.name = "x", in.rank = 4, in.shape[0] = 3, in.shape[1] = 1, in.shape[2] = 5, in.shape[3] = 5, in.data = x;
    CHECK(m && tsr_bind(m, &in, 1, &ws_len, &e) == TSR_OK && ws_len <= sizeof ws, "bind CNN (%lu bytes)",
          (unsigned long)ws_len);
    CHECK(m && tsr_run(m, &in, 1, &out, ws, sizeof ws, &e) == TSR_OK, "run CNN: %s", e.message);
    CHECK(m && out.rank == 4 && out.shape[0] == 3 && out.shape[3] == 2 && count_diff(out.data, want, 24) == 0,
          "CNN output = the SPEC loops");
    tsr_model_free(m);
}

/* Runs a one-input ([4] float32 x) model; the first n_out outputs into out. */
static int run4(const char *outs, const char *nodes, const float *x, tsr_tensor *out, int32_t n_out)
{
    static char doc[4096];
    static double ws[1024];
    static tsr_model *m;
    size_t ws_len = 0;
    tsr_error e;
    tsr_tensor in;
    tsr_model_free(m); /* the previous call's outputs live in ws and m */
    m = NULL;
    snprintf(doc, sizeof doc,
             "{\"format\":\"tessera\",\"format_version\":\"1.0\",\"producer\":{\"name\":\"t\",\"version\":\"0\"},"
             "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[4]}],\"outputs\":[%s],"
             "\"initializers\":[],\"nodes\":[%s]}}", outs, nodes);
    memset(&in, 0, sizeof in);
    in.name = "x";
    in.rank = 1;
    in.shape[0] = 4;
    in.data = x;
    return tsr_model_load_alloc(doc, strlen(doc), &m, &e) == TSR_OK && tsr_bind(m, &in, 1, &ws_len, &e) == TSR_OK &&
           ws_len <= sizeof ws && tsr_run(m, &in, 1, out, ws, sizeof ws, &e) == TSR_OK && n_out > 0;
}

/* The run plan's in-place Relu: only over an operand nothing else reads. */
static void test_relu_in_place(void)
{
#define OUT4(n) "{\"name\":\"" n "\",\"dtype\":\"float32\",\"shape\":[4]}"
#define NODE1(op, a, y) "{\"op\":\"" op "\",\"inputs\":[\"" a "\"],\"outputs\":[\"" y "\"]}"
    const float x[4] = {1, -2, -0.0f, 3};
    tsr_tensor out[2];
    CHECK(run4(OUT4("a") "," OUT4("y"), NODE1("Neg", "x", "a") "," NODE1("Relu", "a", "y"), x, out, 2),
          "relu of a graph output runs");
    CHECK(out[0].data[0] == -1 && out[0].data[1] == 2 && bits(out[0].data[2]) == 0 && out[0].data[3] == -3,
          "a graph output read by a Relu keeps its values");
    CHECK(bits(out[1].data[0]) == 0 && out[1].data[1] == 2 && bits(out[1].data[2]) == 0 && bits(out[1].data[3]) == 0,
          "relu values");
    CHECK(run4(OUT4("s"), NODE1("Neg", "x", "a") "," NODE1("Relu", "a", "r") ","
               "{\"op\":\"Add\",\"inputs\":[\"a\",\"r\"],\"outputs\":[\"s\"]}", x, out, 1),
          "relu of a shared operand runs");
    CHECK(out[0].data[0] == -1 && out[0].data[1] == 4 && bits(out[0].data[2]) == 0 && out[0].data[3] == -3,
          "an operand read by a Relu and another node keeps its values");
    CHECK(run4(OUT4("y"), NODE1("Neg", "x", "a") "," NODE1("Relu", "a", "b") "," NODE1("Relu", "b", "y"), x, out, 1),
          "relu chain runs");
    CHECK(bits(out[0].data[0]) == 0 && out[0].data[1] == 2 && bits(out[0].data[2]) == 0 && bits(out[0].data[3]) == 0,
          "relu chain values");
    CHECK(run4(OUT4("y"), NODE1("Relu", "x", "y"), x, out, 1) && x[1] == -2 && out[0].data != x,
          "a Relu of the graph input writes its own buffer");
#undef OUT4
#undef NODE1
}

int main(void)
{
    test_parser();
    test_numbers();
    test_hostile();
    test_op_table();
    test_run();
    test_ops();
    test_compare_logic();
    test_where();
    test_cast();
    test_gather_concat_slice();
    test_argmax();
    test_argmax_random();
    test_reduce11();
    test_reduce_paths();
    test_log_softmax();
    test_models11();
    test_run11();
    test_matmul_tb_input();
    test_matmul();
    test_matmul_sparse_groups();
    test_exp_sigmoid();
    test_pow();
    test_conv_hand();
    test_conv_random();
    test_conv_shapes();
    test_pool_huge();
    test_pool_2x2();
    test_relu_specials();
    test_relu_in_place();
    test_binary_vec();
    test_models12();
    test_run12();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
