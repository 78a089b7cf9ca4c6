/*
 * The operators (SPEC section 6): one table, one row per op (struct tsr_op
 * in internal.h), in SPEC order. A row gives the name, the number of
 * inputs, the attribute keys with their kinds and the struct they are
 * parsed into, the shape function (E_SHAPE checks, output shape, attribute
 * normalisation, at load) and the run function (kernels.c arithmetic).
 * The loader (check.c, attrs.c, build.c) and the runner (run.c) only read
 * rows; nothing else in the library lists ops.
 *
 * Adding an op: its kernel in kernels.c/.h if it needs new arithmetic, its
 * row below, and a shape/run function unless a family's fits (an
 * elementwise unary op is UNARY(name, kernel): shape_same and run_unary).
 */
#include <math.h> /* HUGE_VAL only (Clip defaults): no libm function is called */
#include <string.h>

#include "internal.h"
#include "json.h"
#include "kernels.h"

#define SHAPE(...) return tsr_fail(c->err, TSR_E_SHAPE, __VA_ARGS__)

/* Attribute struct of an op, for its row: sizeof(T), refused at compile
 * time when T outgrows the schema step's buffer (TSR_ATTR_MAX_BYTES). */
#define ATTR(T) (sizeof(T) + 0 * sizeof(char[sizeof(T) <= TSR_ATTR_MAX_BYTES ? 1 : -1]))

static const tsr_attr_def no_keys[] = {{NULL, 0, 0, 0, 0}};

static int64_t count_of(const tsr_shape *s)
{
    int64_t n = 1;
    int32_t d;
    for (d = 0; d < s->rank; d++)
        n *= s->dim[d];
    return n;
}

static const tsr_shape *in_shape(const tsr_infer *c, const tsr_node *N, int32_t k)
{
    return &c->m->values[N->in[k]].shape;
}

/* Negative axes count from the end: a in [-r, r-1] -> *out in [0, r-1]. */
static int norm_axis(int32_t a, int32_t r, int32_t *out)
{
    if (a < -r || a >= r)
        return 0;
    *out = a < 0 ? a + r : a;
    return 1;
}

/* ---- elementwise unary: Neg Abs Sqrt Relu Exp Log Sigmoid Tanh Softplus ---- */
static tsr_code shape_same(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    *o = *in_shape(c, N, 0);
    return TSR_OK;
}

static void run_unary(const tsr_node *N, const tsr_plan *p)
{
    N->op->kernel(p->data[N->in[0]], (float *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]));
}

/* ---- broadcasting binary: Add Sub Mul Div Maximum Minimum ---- */
static tsr_code shape_broadcast(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    const tsr_shape *a = in_shape(c, N, 0), *b = in_shape(c, N, 1);
    int32_t d;
    o->rank = a->rank > b->rank ? a->rank : b->rank;
    for (d = 0; d < o->rank; d++) {
        int32_t ia = d - (o->rank - a->rank), ib = d - (o->rank - b->rank);
        int32_t x = ia >= 0 ? a->dim[ia] : 1, y = ib >= 0 ? b->dim[ib] : 1;
        if (x != y && x != 1 && y != 1)
            SHAPE("%s: shapes do not broadcast (axis %ld)", c->who, (long)d);
        o->dim[d] = x == 1 ? y : x;
    }
    return TSR_OK;
}

static void run_binary(const tsr_node *N, const tsr_plan *p)
{
    const tsr_shape *o = &p->shape[N->out], *a = &p->shape[N->in[0]], *b = &p->shape[N->in[1]];
    int32_t sa[TSR_MAX_RANK], sb[TSR_MAX_RANK], d, stA = 1, stB = 1;
    for (d = o->rank - 1; d >= 0; d--) {
        int32_t ia = d - (o->rank - a->rank), ib = d - (o->rank - b->rank);
        int32_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        sa[d] = da == 1 ? 0 : stA;
        sb[d] = db == 1 ? 0 : stB;
        stA *= da;
        stB *= db;
    }
    tsr_k_binary(N->op->kop, p->data[N->in[0]], p->data[N->in[1]], (float *)p->data[N->out],
                 o->rank, o->dim, sa, sb);
}

/* ---- MatMul ---- */
typedef struct {
    int32_t ta, tb;
    const float *bt; /* set at load: initializer B of transpose_b, pre-transposed */
} matmul_attr;

static const tsr_attr_def matmul_keys[] = {
    {"transpose_a", TSR_A_BOOL, 0, offsetof(matmul_attr, ta), 0},
    {"transpose_b", TSR_A_BOOL, 0, offsetof(matmul_attr, tb), 0},
    {NULL, 0, 0, 0, 0}};

static int matmul_copies(const void *attr)
{
    return ((const matmul_attr *)attr)->tb;
}

/* Shapes; and an initializer B of transpose_b is transposed once into its
 * copy, so the run uses the fast i-k-j kernel. Same values, same k order:
 * exact. */
static tsr_code shape_matmul(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    matmul_attr *A = (matmul_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0), *b = in_shape(c, N, 1);
    tsr_value *bv = &c->m->values[N->in[1]];
    if (a->rank != 2 || b->rank != 2)
        SHAPE("%s: operands must be rank 2", c->who);
    if ((A->ta ? a->dim[0] : a->dim[1]) != (A->tb ? b->dim[1] : b->dim[0]))
        SHAPE("%s: inner dimensions differ", c->who);
    o->rank = 2;
    o->dim[0] = A->ta ? a->dim[1] : a->dim[0];
    o->dim[1] = A->tb ? b->dim[0] : b->dim[1];
    if (A->tb && bv->kind == V_INIT && bv->copy) {
        int32_t perm[2] = {1, 0};
        tsr_k_transpose(bv->data, bv->copy, 2, bv->shape.dim, perm);
        A->bt = bv->copy;
    }
    return TSR_OK;
}

/* Run scratch: B transposed, when it is not an initializer. */
static int64_t matmul_scratch(const tsr_node *N, const tsr_binding *b)
{
    const matmul_attr *A = (const matmul_attr *)N->attr;
    tsr_shape s;
    if (!A->tb || A->bt)
        return 0;
    return tsr_bound_shape(b, &b->m->values[N->in[1]].shape, &s);
}

static void run_matmul(const tsr_node *N, const tsr_plan *p)
{
    const matmul_attr *A = (const matmul_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]], *b = &p->shape[N->in[1]];
    int32_t M = A->ta ? a->dim[1] : a->dim[0], K = A->ta ? a->dim[0] : a->dim[1];
    int32_t Nn = A->tb ? b->dim[0] : b->dim[1];
    const float *bp = p->data[N->in[1]];
    if (A->tb && A->bt) {
        bp = A->bt;
    } else if (A->tb) {
        int32_t perm[2] = {1, 0};
        tsr_k_transpose(bp, p->scratch, 2, b->dim, perm);
        bp = p->scratch;
    }
    tsr_k_matmul(p->data[N->in[0]], bp, (float *)p->data[N->out], M, K, Nn, A->ta, 0);
}

/* ---- Clip ---- */
typedef struct {
    float lo, hi;
} clip_attr;

static const tsr_attr_def clip_keys[] = {
    {"min", TSR_A_F32, 0, offsetof(clip_attr, lo), -HUGE_VAL},
    {"max", TSR_A_F32, 0, offsetof(clip_attr, hi), HUGE_VAL},
    {NULL, 0, 0, 0, 0}};

static const char *clip_check(const void *attr)
{
    const clip_attr *A = (const clip_attr *)attr;
    return A->lo <= A->hi ? NULL : "min > max";
}

static void run_clip(const tsr_node *N, const tsr_plan *p)
{
    const clip_attr *A = (const clip_attr *)N->attr;
    tsr_k_clip(p->data[N->in[0]], (float *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]), A->lo, A->hi);
}

/* ---- Softmax ---- */
typedef struct {
    int32_t axis; /* in [0, rank) after shape_softmax */
} softmax_attr;

static const tsr_attr_def softmax_keys[] = {
    {"axis", TSR_A_INT, 0, offsetof(softmax_attr, axis), -1},
    {NULL, 0, 0, 0, 0}};

static tsr_code shape_softmax(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    softmax_attr *A = (softmax_attr *)N->attr;
    *o = *in_shape(c, N, 0);
    if (o->rank < 1 || !norm_axis(A->axis, o->rank, &A->axis))
        SHAPE("%s: axis out of range", c->who);
    return TSR_OK;
}

static void run_softmax(const tsr_node *N, const tsr_plan *p)
{
    const softmax_attr *A = (const softmax_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t d, outer = 1, inner = 1;
    for (d = 0; d < A->axis; d++)
        outer *= a->dim[d];
    for (d = A->axis + 1; d < a->rank; d++)
        inner *= a->dim[d];
    tsr_k_softmax(p->data[N->in[0]], (float *)p->data[N->out], outer, a->dim[A->axis], inner);
}

/* ---- ReduceSum ReduceMean ReduceMax ---- */
typedef struct {
    tsr_ints axes; /* n = -1: all axes; in [0, rank) after shape_reduce */
    int32_t keepdims;
} reduce_attr;

static const tsr_attr_def reduce_keys[] = {
    {"axes", TSR_A_AXES, 0, offsetof(reduce_attr, axes), 0},
    {"keepdims", TSR_A_BOOL, 0, offsetof(reduce_attr, keepdims), 0},
    {NULL, 0, 0, 0, 0}};

static tsr_code shape_reduce(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    reduce_attr *A = (reduce_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0);
    int32_t red[TSR_MAX_RANK] = {0}, k, d, r = a->rank;
    if (A->axes.n > r)
        SHAPE("%s: more axes than dimensions", c->who);
    for (k = 0; k < A->axes.n; k++) {
        if (!norm_axis(A->axes.v[k], r, &d) || red[d])
            SHAPE("%s: axis out of range or repeated", c->who);
        red[d] = 1;
        A->axes.v[k] = d;
    }
    o->rank = 0;
    for (d = 0; d < r; d++) {
        if (!(A->axes.n < 0 || red[d]))
            o->dim[o->rank++] = a->dim[d];
        else if (A->keepdims)
            o->dim[o->rank++] = 1;
    }
    return TSR_OK;
}

static void run_reduce(const tsr_node *N, const tsr_plan *p)
{
    const reduce_attr *A = (const reduce_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t red[TSR_MAX_RANK], d;
    for (d = 0; d < a->rank; d++)
        red[d] = A->axes.n < 0;
    for (d = 0; d < A->axes.n; d++)
        red[A->axes.v[d]] = 1;
    tsr_k_reduce(N->op->kop, p->data[N->in[0]], (float *)p->data[N->out], a->rank, a->dim, red);
}

/* ---- Transpose ---- */
typedef struct {
    tsr_ints perm; /* n = -1: reversed; filled in by shape_transpose */
} transpose_attr;

static const tsr_attr_def transpose_keys[] = {
    {"perm", TSR_A_PERM, 0, offsetof(transpose_attr, perm), 0},
    {NULL, 0, 0, 0, 0}};

static tsr_code shape_transpose(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    transpose_attr *A = (transpose_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0);
    int32_t seen[TSR_MAX_RANK] = {0}, d, r = a->rank;
    if (A->perm.n < 0) {
        A->perm.n = r;
        for (d = 0; d < r; d++)
            A->perm.v[d] = r - 1 - d;
    }
    if (A->perm.n != r)
        SHAPE("%s: perm does not match rank %ld", c->who, (long)r);
    o->rank = r;
    for (d = 0; d < r; d++) {
        if (A->perm.v[d] < 0 || A->perm.v[d] >= r || seen[A->perm.v[d]])
            SHAPE("%s: perm is not a permutation of 0..%ld", c->who, (long)r - 1);
        seen[A->perm.v[d]] = 1;
        o->dim[d] = a->dim[A->perm.v[d]];
    }
    return TSR_OK;
}

static void run_transpose(const tsr_node *N, const tsr_plan *p)
{
    const transpose_attr *A = (const transpose_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    tsr_k_transpose(p->data[N->in[0]], (float *)p->data[N->out], a->rank, a->dim, A->perm.v);
}

/* ---- Reshape ---- */
typedef struct {
    tsr_dims shape; /* the -1 entry resolved by shape_reshape */
} reshape_attr;

static const tsr_attr_def reshape_keys[] = {
    {"shape", TSR_A_SHAPE, 1, offsetof(reshape_attr, shape), 0},
    {NULL, 0, 0, 0, 0}};

/* SPEC 6: each symbol of the input occurs in `shape` as often as in the
 * input, no other symbol; the integer dims multiply to P (input) and Q
 * (shape); -1 is P / Q (exactly), else P == Q. */
static tsr_code shape_reshape(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    tsr_dims *S = &((reshape_attr *)N->attr)->shape;
    const tsr_shape *a = in_shape(c, N, 0);
    int64_t P = 1, Q = 1;
    int32_t d, k, j, ca, cb, r = a->rank;
    for (d = 0; d < r; d++) {
        if (a->dim[d] > 0) {
            P *= a->dim[d];
            continue;
        }
        ca = cb = 0;
        for (j = 0; j < r; j++)
            ca += a->dim[j] == a->dim[d];
        for (j = 0; j < S->s.rank; j++)
            cb += j != S->neg && S->s.dim[j] == a->dim[d];
        if (ca != cb)
            SHAPE("%s: symbol '%s' must occur as often in shape as in the input", c->who,
                  c->m->syms[-a->dim[d] - 1]);
    }
    for (k = 0; k < S->s.rank; k++) {
        int32_t e = S->s.dim[k];
        if (e > 0) {
            Q *= e;
        } else if (e < -1 || (e == -1 && k != S->neg)) {
            for (j = 0, ca = 0; j < r; j++)
                ca += a->dim[j] == e;
            if (!ca)
                SHAPE("%s: shape names a symbol the input does not have", c->who);
        }
        if (Q > TSR_MAX_ELEMENTS)
            SHAPE("%s: shape has more elements than the input", c->who);
    }
    if (S->neg >= 0) {
        if (P % Q != 0)
            SHAPE("%s: cannot infer -1 (%ld elements into %ld)", c->who, (long)P, (long)Q);
        S->s.dim[S->neg] = (int32_t)(P / Q);
    } else if (P != Q) {
        SHAPE("%s: element counts differ (%ld vs %ld)", c->who, (long)P, (long)Q);
    }
    *o = S->s;
    return TSR_OK;
}

static void run_copy(const tsr_node *N, const tsr_plan *p)
{
    tsr_k_copy(p->data[N->in[0]], (float *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]));
}

/* ---- the table ---- */
#define UNARY(name, kernel) {name, 1, 1, no_keys, 0, NULL, shape_same, run_unary, kernel, 0, NULL, NULL}
#define BINARY(name, kop) {name, 2, 2, no_keys, 0, NULL, shape_broadcast, run_binary, NULL, kop, NULL, NULL}
#define REDUCE(name, kop) \
    {name, 1, 1, reduce_keys, ATTR(reduce_attr), NULL, shape_reduce, run_reduce, NULL, kop, NULL, NULL}

static const tsr_op ops[] = {
    /* name, inputs min max, attribute keys and struct, check, shape, run, kernel, kop, copies_init, scratch */
    {"MatMul", 2, 2, matmul_keys, ATTR(matmul_attr), NULL, shape_matmul, run_matmul, NULL, 0, matmul_copies,
     matmul_scratch},
    BINARY("Add", TSR_K_ADD),
    BINARY("Sub", TSR_K_SUB),
    BINARY("Mul", TSR_K_MUL),
    BINARY("Div", TSR_K_DIV),
    BINARY("Maximum", TSR_K_MAX),
    BINARY("Minimum", TSR_K_MIN),
    UNARY("Neg", tsr_k_neg),
    UNARY("Abs", tsr_k_abs),
    UNARY("Sqrt", tsr_k_sqrt),
    UNARY("Relu", tsr_k_relu),
    {"Clip", 1, 1, clip_keys, ATTR(clip_attr), clip_check, shape_same, run_clip, NULL, 0, NULL, NULL},
    UNARY("Exp", tsr_k_exp),
    UNARY("Log", tsr_k_log),
    UNARY("Sigmoid", tsr_k_sigmoid),
    UNARY("Tanh", tsr_k_tanh),
    UNARY("Softplus", tsr_k_softplus),
    {"Softmax", 1, 1, softmax_keys, ATTR(softmax_attr), NULL, shape_softmax, run_softmax, NULL, 0, NULL, NULL},
    REDUCE("ReduceSum", TSR_K_RSUM),
    REDUCE("ReduceMean", TSR_K_RMEAN),
    REDUCE("ReduceMax", TSR_K_RMAX),
    {"Transpose", 1, 1, transpose_keys, ATTR(transpose_attr), NULL, shape_transpose, run_transpose, NULL, 0, NULL,
     NULL},
    {"Reshape", 1, 1, reshape_keys, ATTR(reshape_attr), NULL, shape_reshape, run_copy, NULL, 0, NULL, NULL},
};

#define N_OPS ((int)(sizeof ops / sizeof ops[0]))

const tsr_op *tsr_op_find(const char *s, size_t at)
{
    int i;
    if (at == TJ_NONE || tj_type(s, at) != TJ_STR)
        return NULL;
    for (i = 0; i < N_OPS; i++)
        if (tj_str_eq(s, at, ops[i].name))
            return &ops[i];
    return NULL;
}

/* ---- public: enumerating the table (tessera.h) ---- */
int tsr_op_count(void)
{
    return N_OPS;
}

const char *tsr_op_name(int i)
{
    return i >= 0 && i < N_OPS ? ops[i].name : NULL;
}

int tsr_op_arity(int i, int *max_inputs)
{
    if (i < 0 || i >= N_OPS)
        return -1;
    if (max_inputs)
        *max_inputs = ops[i].max_in;
    return ops[i].min_in;
}

int tsr_op_attr_count(int i)
{
    int j = 0;
    if (i < 0 || i >= N_OPS)
        return -1;
    while (ops[i].attrs[j].key)
        j++;
    return j;
}

const char *tsr_op_attr_name(int i, int j)
{
    int n = tsr_op_attr_count(i);
    return j >= 0 && j < n ? ops[i].attrs[j].key : NULL;
}
