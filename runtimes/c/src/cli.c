/*
 * tessera-run MODEL INPUTS: the runtime CLI protocol of SPEC section 9.
 * Exit 0 with {"outputs": ...}, exit 1 with {"error": ...}, exit 2 on usage.
 * tessera-run --ops: the op table as {"ops": [...]}, exit 0.
 * The CLI (not the library) may allocate: it owns the file buffers, the
 * arena and the workspace.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime for --repeat timing */
#include <math.h> /* HUGE_VAL, NAN macros only */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            printf("\\u%04x", c); /* keeps the output ASCII, valid JSON */
        else
            putchar(c);
    }
    putchar('"');
}

static int fail(const tsr_error *e)
{
    printf("{\"error\": {\"code\": \"%s\", \"message\": ", tsr_code_name(e->code == TSR_E_ARENA ? TSR_E_LIMIT : e->code));
    json_str(e->message);
    printf("}}\n");
    return 1;
}

/* Whole file into a malloc'ed buffer; size limit as SPEC 8. */
static char *read_file(const char *path, size_t *len, tsr_error *e)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) {
        tsr_fail(e, TSR_E_PARSE, "cannot read %.200s", path);
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            cap = cap ? cap * 2 : 65536;
            if (cap > TSR_MAX_FILE_BYTES + 1)
                cap = TSR_MAX_FILE_BYTES + 1;
            if (n == cap) {
                free(buf);
                fclose(f);
                tsr_fail(e, TSR_E_LIMIT, "%.200s is larger than 256 MiB", path);
                return NULL;
            }
            nb = (char *)realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                tsr_fail(e, TSR_E_LIMIT, "out of memory reading %.200s", path);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        tsr_fail(e, TSR_E_PARSE, "cannot read %.200s", path);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf ? buf : (char *)malloc(1);
}

/* One tensor of an inputs document into t (data malloc'ed), of the dtype
 * its graph input declares (t->dtype, set by the caller). */
static tsr_code read_tensor(const char *s, size_t n, size_t obj, tsr_tensor *t, tsr_error *e)
{
    size_t it = obj, k, v, shp = TJ_NONE, data = TJ_NONE, b64 = TJ_NONE;
    uint64_t count = 1;
    float *buf;
    const char *nm = t->name;
    int is_int = t->dtype == TSR_INT32;
    if (tj_type(s, obj) != TJ_OBJ)
        return tsr_fail(e, TSR_E_INPUT, "input '%s' is not a tensor object", nm);
    while (tj_next(s, n, &it, 1, &k, &v)) {
        if (tj_str_eq(s, k, "shape"))
            shp = v;
        else if (tj_str_eq(s, k, "data"))
            data = v;
        else if (tj_str_eq(s, k, "data_b64"))
            b64 = v;
        else if (!(tj_str_eq(s, k, "dtype") && tj_type(s, v) == TJ_STR &&
                   tj_str_eq(s, v, is_int ? "int32" : "float32")))
            return tsr_fail(e, TSR_E_INPUT, "input '%s': unknown field, or a dtype other than the declared %s", nm,
                            is_int ? "int32" : "float32");
    }
    if (shp == TJ_NONE || tj_type(s, shp) != TJ_ARR || (data == TJ_NONE) == (b64 == TJ_NONE))
        return tsr_fail(e, TSR_E_INPUT, "input '%s': needs shape and exactly one of data/data_b64", nm);
    it = shp;
    t->rank = 0;
    while (tj_next(s, n, &it, 0, NULL, &v)) {
        double d;
        if (tj_type(s, v) != TJ_NUM || !tj_is_int(d = tj_num(s, v)) || d < 1)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': dimensions must be integers >= 1", nm);
        if (t->rank >= TSR_MAX_RANK)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': rank above 8", nm);
        t->shape[t->rank++] = d > 2147483647.0 ? 2147483647 : (int32_t)d;
        count = count * (uint64_t)t->shape[t->rank - 1];
        if (count > ((uint64_t)1 << 40))
            count = (uint64_t)1 << 40; /* saturate: cannot match any data */
    }
    if (data != TJ_NONE) {
        size_t i = 0, c;
        if (tj_type(s, data) != TJ_ARR)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': data must be an array", nm);
        c = tj_count(s, n, data);
        it = data;
        while (tj_next(s, n, &it, 0, NULL, &v)) {
            int ty = tj_type(s, v);
            if (ty == TJ_ARR || ty == TJ_OBJ)
                return tsr_fail(e, TSR_E_INPUT, "input '%s': data must be a flat row-major list (value #%lu is %s)",
                                nm, (unsigned long)i, ty == TJ_ARR ? "an array" : "an object");
            if (is_int) {
                double d = ty == TJ_NUM ? tj_num(s, v) : 0.5;
                if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int32_t)d)
                    return tsr_fail(e, TSR_E_INPUT, "input '%s': data value %lu is not an int32 integer", nm,
                                    (unsigned long)i);
            } else if (ty != TJ_NUM && !(ty == TJ_STR && (tj_str_eq(s, v, "inf") || tj_str_eq(s, v, "-inf") ||
                                                          tj_str_eq(s, v, "nan")))) {
                return tsr_fail(e, TSR_E_INPUT, "input '%s': data value %lu is not a number", nm, (unsigned long)i);
            }
            i++;
        }
        if (c != count)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': %lu values for %lu elements", nm,
                            (unsigned long)c, (unsigned long)count);
        buf = (float *)malloc(c ? c * sizeof(float) : 4);
        if (!buf)
            return tsr_fail(e, TSR_E_LIMIT, "out of memory");
        it = data;
        i = 0;
        while (tj_next(s, n, &it, 0, NULL, &v)) {
            if (is_int)
                ((int32_t *)(void *)buf)[i] = (int32_t)tj_num(s, v);
            else if (tj_type(s, v) == TJ_NUM)
                buf[i] = (float)tj_num(s, v);
            else
                buf[i] = tj_str_eq(s, v, "nan") ? (float)NAN :
                         tj_str_eq(s, v, "inf") ? (float)HUGE_VAL : -(float)HUGE_VAL;
            i++;
        }
    } else {
        size_t i;
        if (tj_type(s, b64) != TJ_STR)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': data_b64 must be a string", nm);
        if (count > (uint64_t)TSR_MAX_FILE_BYTES)
            return tsr_fail(e, TSR_E_INPUT, "input '%s': data_b64 has the wrong length", nm);
        buf = (float *)malloc(count ? (size_t)count * 4 : 4);
        if (!buf)
            return tsr_fail(e, TSR_E_LIMIT, "out of memory");
        if (tsr_b64_decode(s, b64, (unsigned char *)buf, (size_t)count * 4) == (size_t)-1) {
            free(buf);
            return tsr_fail(e, TSR_E_INPUT, "input '%s': data_b64 malformed or of the wrong length", nm);
        }
        for (i = 0; i < count; i++) {
            unsigned char *p = (unsigned char *)(buf + i);
            uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
            memcpy(p, &u, 4);
        }
    }
    if (is_int)
        t->idata = (const int32_t *)(void *)buf;
    else
        t->data = buf;
    return TSR_OK;
}

static int name_ok(const char *p)
{
    int first = 1;
    for (; *p; p++, first = 0)
        if (!tsr_name_char((unsigned char)*p, first, 0))
            return 0;
    return !first;
}

/* Parse the inputs document into a malloc'ed tensor array. */
static tsr_code read_inputs(const tsr_model *m, const char *s, size_t n, tsr_tensor **out, int32_t *count,
                            char *names, tsr_error *e)
{
    int32_t g;
    size_t pos, top, it, k, v, map, nk = 0, max_keys = 0;
    uint32_t *scratch;
    tsr_code rc = tsr_json_validate(s, n, NULL, 0, &max_keys, &pos);
    tsr_tensor *ts;
    if (rc)
        return tsr_fail(e, rc, rc == TSR_E_LIMIT ? "inputs: nesting deeper than 64" : "inputs: invalid JSON at byte %lu",
                        (unsigned long)pos);
    scratch = (uint32_t *)malloc(max_keys * 4 + 4);
    if (!scratch)
        return tsr_fail(e, TSR_E_LIMIT, "out of memory");
    rc = tsr_json_validate(s, n, scratch, max_keys + 1, NULL, &pos);
    free(scratch);
    if (rc)
        return tsr_fail(e, rc, "inputs: invalid JSON at byte %lu", (unsigned long)pos);
    top = tj_ws(s, n, 0);
    if (tj_type(s, top) != TJ_OBJ || tj_count(s, n, top) != 1 ||
        (map = tj_get(s, n, top, "inputs")) == TJ_NONE || tj_type(s, map) != TJ_OBJ)
        return tsr_fail(e, TSR_E_INPUT, "inputs file is not a tensors document {\"inputs\": {...}}");
    nk = tj_count(s, n, map);
    if (nk > 256)
        return tsr_fail(e, TSR_E_INPUT, "more than 256 inputs");
    ts = (tsr_tensor *)calloc(nk + 1, sizeof *ts);
    if (!ts)
        return tsr_fail(e, TSR_E_LIMIT, "out of memory");
    *out = ts;
    *count = 0;
    it = map;
    while (tj_next(s, n, &it, 1, &k, &v)) {
        size_t p = k + 1, j = 0;
        int32_t c;
        char *nm = names + (size_t)*count * 260;
        while ((c = tj_cp(s, &p)) >= 0) {
            if (j >= 257 || c < 0x20 || c > 0x7E)
                return tsr_fail(e, TSR_E_INPUT, "bad input name");
            nm[j++] = (char)c;
        }
        nm[j] = 0;
        if (!name_ok(nm))
            return tsr_fail(e, TSR_E_INPUT, "bad input name '%s'", nm);
        ts[*count].name = nm;
        for (g = 0; g < tsr_model_num_inputs(m); g++) /* an unknown name fails at tsr_bind */
            if (!strcmp(nm, tsr_model_input_name(m, g)))
                ts[*count].dtype = tsr_model_input_dtype(m, g);
        rc = read_tensor(s, n, v, &ts[*count], e);
        (*count)++;
        if (rc)
            return rc;
    }
    return TSR_OK;
}

/* Shortest %.Ng (N = 1..9) that gives v back through strtod then float. */
static void print_float(float v)
{
    char buf[64];
    int p;
    if (v != v) {
        fputs("\"nan\"", stdout);
        return;
    }
    if (v - v != 0.0f) {
        fputs(v > 0 ? "\"inf\"" : "\"-inf\"", stdout);
        return;
    }
    if (v == 0.0f) { /* == cannot tell -0 from +0: keep the sign explicitly */
        fputs(signbit(v) ? "-0.0" : "0.0", stdout);
        return;
    }
    for (p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, stdout);
}

static void print_outputs(const tsr_model *m, const tsr_tensor *outs)
{
    int32_t i, d;
    printf("{\"outputs\": {");
    for (i = 0; i < m->n_outputs; i++) {
        int64_t c = 1, j;
        printf("%s", i ? ", " : "");
        json_str(outs[i].name);
        printf(": {\"shape\": [");
        for (d = 0; d < outs[i].rank; d++) {
            printf("%s%ld", d ? ", " : "", (long)outs[i].shape[d]);
            c *= outs[i].shape[d];
        }
        if (outs[i].dtype == TSR_INT32) {
            printf("], \"dtype\": \"int32\", \"data\": [");
            for (j = 0; j < c; j++)
                printf("%s%ld", j ? ", " : "", (long)outs[i].idata[j]);
        } else {
            printf("], \"data\": [");
            for (j = 0; j < c; j++) {
                if (j)
                    fputs(", ", stdout);
                print_float(outs[i].data[j]);
            }
        }
        printf("]}");
    }
    printf("}}\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --repeat N: time N more runs in-process and print the median on stderr, so
 * callers can tell run time from process start and model loading. */
static tsr_code time_runs(tsr_model *m, const tsr_tensor *ins, int32_t nin, tsr_tensor *outs, void *ws,
                          size_t ws_len, long repeat, tsr_error *e)
{
    double *us = (double *)malloc((size_t)repeat * sizeof *us);
    long r;
    if (!us)
        return tsr_fail(e, TSR_E_LIMIT, "out of memory for --repeat %ld", repeat);
    for (r = 0; r < repeat; r++) {
        struct timespec t0, t1;
        tsr_code rc;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = tsr_run(m, ins, nin, outs, ws, ws_len, e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc != TSR_OK) {
            free(us);
            return rc;
        }
        us[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    qsort(us, (size_t)repeat, sizeof *us, cmp_double);
    fprintf(stderr, "tessera-run: run median %.1f us over %ld runs\n", us[repeat / 2], repeat);
    free(us);
    return TSR_OK;
}

/* --ops: {"ops": [{"name": "MatMul", "arity": 2, "attrs": ["transpose_a",
 * "transpose_b"]}, ...]}, ops in table order, attribute keys sorted. */
static int print_ops(void)
{
    int i, j, k, n = tsr_op_count();
    printf("{\"ops\": [");
    for (i = 0; i < n; i++) {
        const char *keys[64];
        int na = tsr_op_attr_count(i), max_in = 0, min_in = tsr_op_arity(i, &max_in);
        if (na > 64)
            na = 64;
        for (j = 0; j < na; j++) { /* insertion sort, a handful of keys */
            const char *key = tsr_op_attr_name(i, j);
            for (k = j; k > 0 && strcmp(keys[k - 1], key) > 0; k--)
                keys[k] = keys[k - 1];
            keys[k] = key;
        }
        printf("%s{\"name\": ", i ? ", " : "");
        json_str(tsr_op_name(i));
        if (min_in == max_in)
            printf(", \"arity\": %d, \"attrs\": [", min_in);
        else /* not in op set 1.0: [min, max], max -1 for no limit */
            printf(", \"arity\": [%d, %d], \"attrs\": [", min_in, max_in);
        for (j = 0; j < na; j++) {
            printf("%s", j ? ", " : "");
            json_str(keys[j]);
        }
        printf("]}");
    }
    printf("]}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    tsr_error e;
    tsr_model *m = NULL;
    char *mj, *ij;
    size_t ml = 0, il = 0, ws_len = 0;
    tsr_tensor *ins = NULL, *outs;
    int32_t nin = 0, i;
    void *ws;
    static char names[257 * 260];
    long repeat = 0;
    if (argc == 2 && strcmp(argv[1], "--ops") == 0)
        return print_ops();
    if (argc == 5 && strcmp(argv[1], "--repeat") == 0) {
        repeat = strtol(argv[2], NULL, 10);
        argc -= 2;
        argv += 2;
    }
    if (argc != 3 || repeat < 0 || repeat > 1000000) {
        fprintf(stderr, "usage: tessera-run [--repeat N] MODEL.json INPUTS.json\n"
                        "       tessera-run --ops\n");
        return 2;
    }
    memset(&e, 0, sizeof e);
    if (!(mj = read_file(argv[1], &ml, &e)))
        return fail(&e);
    if (tsr_model_load_alloc(mj, ml, &m, &e) != TSR_OK)
        return fail(&e);
    free(mj);
    if (!(ij = read_file(argv[2], &il, &e)))
        return fail(&e);
    if (read_inputs(m, ij, il, &ins, &nin, names, &e) != TSR_OK)
        return fail(&e);
    if (tsr_bind(m, ins, nin, &ws_len, &e) != TSR_OK)
        return fail(&e);
    ws = malloc(ws_len ? ws_len : 8);
    outs = (tsr_tensor *)calloc((size_t)m->n_outputs, sizeof *outs);
    if (!ws || !outs) {
        tsr_fail(&e, TSR_E_LIMIT, "out of memory (%lu bytes of workspace)", (unsigned long)ws_len);
        return fail(&e);
    }
    if (tsr_run(m, ins, nin, outs, ws, ws_len, &e) != TSR_OK)
        return fail(&e);
    if (repeat > 0 && time_runs(m, ins, nin, outs, ws, ws_len, repeat, &e) != TSR_OK)
        return fail(&e);
    print_outputs(m, outs);
    for (i = 0; i < nin; i++)
        free(ins[i].dtype == TSR_INT32 ? (void *)ins[i].idata : (void *)ins[i].data);
    free(ins);
    free(outs);
    free(ws);
    free(ij);
    tsr_model_free(m);
    return fflush(stdout) == 0 ? 0 : 1;
}
