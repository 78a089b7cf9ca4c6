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
#include <stdio.h>
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

static tsr_code run_unary(const tsr_node *N, const tsr_plan *p)
{
    N->op->kernel((const float *)p->data[N->in[0]], (float *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]));
    return TSR_OK;
}

/* ---- broadcasting binary: Add Sub Mul Div Maximum Minimum (and the 1.1
 * comparisons, And, Or, and Where's three operands) ---- */
static tsr_code shape_broadcast(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    int32_t d, k;
    o->rank = 0;
    for (k = 0; k < N->nin; k++)
        if (in_shape(c, N, k)->rank > o->rank)
            o->rank = in_shape(c, N, k)->rank;
    for (d = 0; d < o->rank; d++) {
        o->dim[d] = 1;
        for (k = 0; k < N->nin; k++) {
            const tsr_shape *a = in_shape(c, N, k);
            int32_t ia = d - (o->rank - a->rank), x = ia >= 0 ? a->dim[ia] : 1;
            if (x != o->dim[d] && x != 1 && o->dim[d] != 1)
                SHAPE("%s: shapes do not broadcast (axis %ld)", c->who, (long)d);
            if (x != 1)
                o->dim[d] = x;
        }
    }
    return TSR_OK;
}

/* Element strides of operand k of node N for each output dim (0 where it
 * is broadcast), as tsr_k_binary and its 1.1 relatives take them. */
static void bstrides(const tsr_node *N, const tsr_plan *p, int32_t k, int32_t *s)
{
    const tsr_shape *o = &p->shape[N->out], *a = &p->shape[N->in[k]];
    int32_t d, st = 1;
    for (d = o->rank - 1; d >= 0; d--) {
        int32_t ia = d - (o->rank - a->rank), da = ia >= 0 ? a->dim[ia] : 1;
        s[d] = da == 1 ? 0 : st;
        st *= da;
    }
}

static tsr_code run_binary(const tsr_node *N, const tsr_plan *p)
{
    const tsr_shape *o = &p->shape[N->out];
    int32_t sa[TSR_MAX_RANK], sb[TSR_MAX_RANK];
    bstrides(N, p, 0, sa);
    bstrides(N, p, 1, sb);
    tsr_k_binary(N->op->kop, (const float *)p->data[N->in[0]], (const float *)p->data[N->in[1]],
                 (float *)p->data[N->out], o->rank, o->dim, sa, sb);
    return TSR_OK;
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
        tsr_k_transpose((const float *)bv->data, (float *)bv->copy, 2, bv->shape.dim, perm);
        A->bt = (const float *)bv->copy;
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

static tsr_code run_matmul(const tsr_node *N, const tsr_plan *p)
{
    const matmul_attr *A = (const matmul_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]], *b = &p->shape[N->in[1]];
    int32_t M = A->ta ? a->dim[1] : a->dim[0], K = A->ta ? a->dim[0] : a->dim[1];
    int32_t Nn = A->tb ? b->dim[0] : b->dim[1];
    const float *bp = (const float *)p->data[N->in[1]];
    if (A->tb && A->bt) {
        bp = A->bt;
    } else if (A->tb) {
        int32_t perm[2] = {1, 0};
        tsr_k_transpose(bp, p->scratch, 2, b->dim, perm);
        bp = p->scratch;
    }
    tsr_k_matmul((const float *)p->data[N->in[0]], bp, (float *)p->data[N->out], M, K, Nn, A->ta, 0);
    return TSR_OK;
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

static tsr_code run_clip(const tsr_node *N, const tsr_plan *p)
{
    const clip_attr *A = (const clip_attr *)N->attr;
    tsr_k_clip((const float *)p->data[N->in[0]], (float *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]), A->lo, A->hi);
    return TSR_OK;
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

static tsr_code run_softmax(const tsr_node *N, const tsr_plan *p)
{
    const softmax_attr *A = (const softmax_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t d, outer = 1, inner = 1;
    for (d = 0; d < A->axis; d++)
        outer *= a->dim[d];
    for (d = A->axis + 1; d < a->rank; d++)
        inner *= a->dim[d];
    tsr_k_softmax((const float *)p->data[N->in[0]], (float *)p->data[N->out], outer, a->dim[A->axis], inner);
    return TSR_OK;
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

static tsr_code run_reduce(const tsr_node *N, const tsr_plan *p)
{
    const reduce_attr *A = (const reduce_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t red[TSR_MAX_RANK], d;
    for (d = 0; d < a->rank; d++)
        red[d] = A->axes.n < 0;
    for (d = 0; d < A->axes.n; d++)
        red[A->axes.v[d]] = 1;
    tsr_k_reduce(N->op->kop, (const float *)p->data[N->in[0]], (float *)p->data[N->out], a->rank, a->dim, red);
    return TSR_OK;
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

static tsr_code run_transpose(const tsr_node *N, const tsr_plan *p)
{
    const transpose_attr *A = (const transpose_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    tsr_k_transpose32(p->data[N->in[0]], (void *)p->data[N->out], a->rank, a->dim, A->perm.v);
    return TSR_OK;
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

static tsr_code run_copy(const tsr_node *N, const tsr_plan *p)
{
    tsr_k_copy32(p->data[N->in[0]], (void *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]));
    return TSR_OK;
}

/* ==== format 1.1 ==== */

static const char *dt_name(int32_t dt)
{
    return dt == TSR_INT32 ? "int32" : "float32";
}

static int32_t dt_of(const tsr_infer *c, const tsr_node *N, int32_t k)
{
    return c->m->values[N->in[k]].dtype;
}

static void set_dt(const tsr_infer *c, const tsr_node *N, int32_t dt)
{
    c->m->values[N->out].dtype = dt;
}

static int32_t kdt(const tsr_plan *p, int32_t v)
{
    return p->m->values[v].dtype == TSR_INT32 ? TSR_K_I32 : TSR_K_F32;
}

/* Label of a node for run-time messages. */
static void run_who(const tsr_node *N, char *buf, size_t cap)
{
    if (N->label)
        snprintf(buf, cap, "node '%s' (%s)", N->label, N->op->name);
    else
        snprintf(buf, cap, "node #%ld (%s)", (long)N->index, N->op->name);
}

/* Product of dims [from, to) of a concrete shape. */
static int32_t dims_prod(const tsr_shape *s, int32_t from, int32_t to)
{
    int32_t d, n = 1;
    for (d = from; d < to; d++)
        n *= s->dim[d];
    return n;
}

/* ---- comparisons (either dtype, same for both), And, Or (int32) ---- */
static tsr_code run_compare(const tsr_node *N, const tsr_plan *p)
{
    const tsr_shape *o = &p->shape[N->out];
    int32_t sa[TSR_MAX_RANK], sb[TSR_MAX_RANK];
    bstrides(N, p, 0, sa);
    bstrides(N, p, 1, sb);
    tsr_k_compare(N->op->kop, kdt(p, N->in[0]), p->data[N->in[0]], p->data[N->in[1]],
                  (int32_t *)p->data[N->out], o->rank, o->dim, sa, sb);
    return TSR_OK;
}

static tsr_code run_not(const tsr_node *N, const tsr_plan *p)
{
    tsr_k_not((const int32_t *)p->data[N->in[0]], (int32_t *)p->data[N->out], (int32_t)count_of(&p->shape[N->out]));
    return TSR_OK;
}

/* ---- Where(C int32, A, B same dtype): three-way broadcast ---- */
static tsr_code shape_where(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    if (dt_of(c, N, 0) != TSR_INT32)
        SHAPE("%s: operand 0 is float32, expected int32", c->who);
    if (dt_of(c, N, 2) != dt_of(c, N, 1))
        SHAPE("%s: operand 2 is %s, expected %s (the dtype of operand 1)", c->who, dt_name(dt_of(c, N, 2)),
              dt_name(dt_of(c, N, 1)));
    set_dt(c, N, dt_of(c, N, 1));
    return shape_broadcast(c, N, o);
}

static tsr_code run_where(const tsr_node *N, const tsr_plan *p)
{
    const tsr_shape *o = &p->shape[N->out];
    int32_t sc[TSR_MAX_RANK], sa[TSR_MAX_RANK], sb[TSR_MAX_RANK];
    bstrides(N, p, 0, sc);
    bstrides(N, p, 1, sa);
    bstrides(N, p, 2, sb);
    tsr_k_where((const int32_t *)p->data[N->in[0]], p->data[N->in[1]], p->data[N->in[2]], (void *)p->data[N->out],
                o->rank, o->dim, sc, sa, sb);
    return TSR_OK;
}

/* ---- Cast ---- */
typedef struct {
    int32_t to; /* tsr_dtype */
} cast_attr;

static const tsr_attr_def cast_keys[] = {
    {"to", TSR_A_DTYPE, 1, offsetof(cast_attr, to), 0},
    {NULL, 0, 0, 0, 0}};

static tsr_code shape_cast(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    set_dt(c, N, ((const cast_attr *)N->attr)->to);
    return shape_same(c, N, o);
}

static tsr_code run_cast(const tsr_node *N, const tsr_plan *p)
{
    int32_t from = p->m->values[N->in[0]].dtype, to = ((const cast_attr *)N->attr)->to;
    int32_t n = (int32_t)count_of(&p->shape[N->out]);
    if (from == to)
        tsr_k_copy32(p->data[N->in[0]], (void *)p->data[N->out], n);
    else if (to == TSR_INT32)
        tsr_k_cast_f2i((const float *)p->data[N->in[0]], (int32_t *)p->data[N->out], n);
    else
        tsr_k_cast_i2f((const int32_t *)p->data[N->in[0]], (float *)p->data[N->out], n);
    return TSR_OK;
}

/* ---- ops with one `axis` (Gather, Concat) ---- */
typedef struct {
    int32_t axis; /* in [0, rank) after the shape function */
} axis_attr;

static const tsr_attr_def axis0_keys[] = {
    {"axis", TSR_A_INT, 0, offsetof(axis_attr, axis), 0},
    {NULL, 0, 0, 0, 0}};
static const tsr_attr_def axis_req_keys[] = {
    {"axis", TSR_A_INT, 1, offsetof(axis_attr, axis), 0},
    {NULL, 0, 0, 0, 0}};

/* ---- Gather(DATA either dtype, INDICES int32) ---- */
static tsr_code shape_gather(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    axis_attr *A = (axis_attr *)N->attr;
    const tsr_shape *x = in_shape(c, N, 0), *ix = in_shape(c, N, 1);
    int32_t d;
    if (dt_of(c, N, 1) != TSR_INT32)
        SHAPE("%s: operand 1 is float32, expected int32", c->who);
    set_dt(c, N, dt_of(c, N, 0));
    if (x->rank < 1)
        SHAPE("%s: data must have rank >= 1", c->who);
    if (!norm_axis(A->axis, x->rank, &A->axis))
        SHAPE("%s: axis out of range", c->who);
    if (x->rank - 1 + ix->rank > TSR_MAX_RANK)
        return tsr_fail(c->err, TSR_E_LIMIT, "%s: result has more than 8 dimensions", c->who);
    o->rank = 0;
    for (d = 0; d < A->axis; d++)
        o->dim[o->rank++] = x->dim[d];
    for (d = 0; d < ix->rank; d++)
        o->dim[o->rank++] = ix->dim[d];
    for (d = A->axis + 1; d < x->rank; d++)
        o->dim[o->rank++] = x->dim[d];
    return TSR_OK;
}

static tsr_code run_gather(const tsr_node *N, const tsr_plan *p)
{
    const axis_attr *A = (const axis_attr *)N->attr;
    const tsr_shape *x = &p->shape[N->in[0]], *ix = &p->shape[N->in[1]];
    int32_t d = x->dim[A->axis], n = dims_prod(ix, 0, ix->rank);
    int32_t bad = tsr_k_gather(p->data[N->in[0]], (const int32_t *)p->data[N->in[1]], (void *)p->data[N->out],
                               dims_prod(x, 0, A->axis), d, n, dims_prod(x, A->axis + 1, x->rank));
    if (bad >= 0) {
        char who[300];
        run_who(N, who, sizeof who);
        return tsr_fail(p->err, TSR_E_INPUT, "%s: index %ld (element %ld of the indices) is outside [%ld, %ld]",
                        who, (long)((const int32_t *)p->data[N->in[1]])[bad], (long)bad, -(long)d, (long)d - 1);
    }
    return TSR_OK;
}

/* ---- Concat (1 to 64 inputs of one dtype) ---- */
static tsr_code shape_concat(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    axis_attr *A = (axis_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0);
    int64_t sum = 0;
    int32_t k, d;
    if (a->rank < 1)
        SHAPE("%s: operands must have rank >= 1", c->who);
    if (!norm_axis(A->axis, a->rank, &A->axis))
        SHAPE("%s: axis out of range", c->who);
    for (k = 0; k < N->nin; k++) {
        const tsr_shape *b = in_shape(c, N, k);
        if (b->rank != a->rank)
            SHAPE("%s: operand %ld has rank %ld, operand 0 rank %ld", c->who, (long)k, (long)b->rank, (long)a->rank);
        for (d = 0; d < a->rank; d++)
            if (d != A->axis && b->dim[d] != a->dim[d])
                SHAPE("%s: operand %ld differs from operand 0 in dimension %ld", c->who, (long)k, (long)d);
        if (b->dim[A->axis] < 1)
            SHAPE("%s: operand %ld has a symbol on the concatenation axis", c->who, (long)k);
        sum += b->dim[A->axis];
    }
    if (sum > TSR_MAX_ELEMENTS)
        return tsr_fail(c->err, TSR_E_LIMIT, "%s: result has more than 2^26 elements", c->who);
    *o = *a;
    o->dim[A->axis] = (int32_t)sum;
    return TSR_OK;
}

static tsr_code run_concat(const tsr_node *N, const tsr_plan *p)
{
    const axis_attr *A = (const axis_attr *)N->attr;
    const tsr_shape *o = &p->shape[N->out];
    int32_t k, at = 0, outer = dims_prod(o, 0, A->axis), inner = dims_prod(o, A->axis + 1, o->rank);
    for (k = 0; k < N->nin; k++) {
        int32_t len = p->shape[N->in[k]].dim[A->axis];
        tsr_k_concat(p->data[N->in[k]], (void *)p->data[N->out], outer, len, inner, o->dim[A->axis], at);
        at += len;
    }
    return TSR_OK;
}

/* ---- Slice ---- */
typedef struct {
    tsr_ints starts, ends, axes, steps; /* axes, steps: n = -1 when absent */
    int32_t start[TSR_MAX_RANK], step[TSR_MAX_RANK]; /* per input axis, set by shape_slice */
} slice_attr;

static const tsr_attr_def slice_keys[] = {
    {"starts", TSR_A_INTS, 1, offsetof(slice_attr, starts), 0},
    {"ends", TSR_A_INTS, 1, offsetof(slice_attr, ends), 0},
    {"axes", TSR_A_AXES, 0, offsetof(slice_attr, axes), 0},
    {"steps", TSR_A_INTS, 0, offsetof(slice_attr, steps), 0},
    {NULL, 0, 0, 0, 0}};

static const char *slice_check(const void *attr)
{
    const slice_attr *A = (const slice_attr *)attr;
    int32_t k;
    if (A->ends.n != A->starts.n || (A->axes.n >= 0 && A->axes.n != A->starts.n) ||
        (A->steps.n >= 0 && A->steps.n != A->starts.n))
        return "starts, ends, axes and steps must have the same length";
    for (k = 0; k < A->steps.n; k++)
        if (A->steps.v[k] == 0)
            return "steps must be nonzero";
    return NULL;
}

/* Python's slice(start, end, step) on a length-n axis (CPython's
 * PySlice_AdjustIndices): the first index and the count. */
static int32_t py_slice(int64_t st, int64_t en, int64_t step, int64_t n, int32_t *first)
{
    int64_t len = 0;
    if (st < 0)
        st += n;
    if (en < 0)
        en += n;
    if (step > 0) {
        st = st < 0 ? 0 : st > n ? n : st;
        en = en < 0 ? 0 : en > n ? n : en;
        if (en > st)
            len = (en - st + step - 1) / step;
    } else {
        st = st < 0 ? -1 : st >= n ? n - 1 : st;
        en = en < 0 ? -1 : en >= n ? n - 1 : en;
        if (st > en)
            len = (st - en - step - 1) / -step;
    }
    *first = (int32_t)st;
    return (int32_t)len;
}

static tsr_code shape_slice(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    slice_attr *A = (slice_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0);
    int32_t seen[TSR_MAX_RANK] = {0}, k, d;
    *o = *a;
    for (d = 0; d < a->rank; d++) {
        A->start[d] = 0;
        A->step[d] = 1;
    }
    for (k = 0; k < A->starts.n; k++) {
        int32_t ax = A->axes.n < 0 ? k : A->axes.v[k], step = A->steps.n < 0 ? 1 : A->steps.v[k];
        if (!norm_axis(ax, a->rank, &d) || seen[d])
            SHAPE("%s: axis out of range or repeated", c->who);
        seen[d] = 1;
        if (a->dim[d] < 1)
            SHAPE("%s: sliced dimension %ld is a symbol", c->who, (long)d);
        o->dim[d] = py_slice(A->starts.v[k], A->ends.v[k], step, a->dim[d], &A->start[d]);
        A->step[d] = step;
        if (o->dim[d] == 0)
            SHAPE("%s: the slice of dimension %ld is empty", c->who, (long)d);
    }
    return TSR_OK;
}

static tsr_code run_slice(const tsr_node *N, const tsr_plan *p)
{
    const slice_attr *A = (const slice_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    tsr_k_slice(p->data[N->in[0]], (void *)p->data[N->out], a->rank, a->dim, p->shape[N->out].dim, A->start, A->step);
    return TSR_OK;
}

/* ---- ArgMax ArgMin (either dtype in, int32 out) ---- */
typedef struct {
    int32_t axis, keepdims;
} argmax_attr;

static const tsr_attr_def argmax_keys[] = {
    {"axis", TSR_A_INT, 1, offsetof(argmax_attr, axis), 0},
    {"keepdims", TSR_A_BOOL, 0, offsetof(argmax_attr, keepdims), 0},
    {NULL, 0, 0, 0, 0}};

static tsr_code shape_argmax(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    argmax_attr *A = (argmax_attr *)N->attr;
    const tsr_shape *a = in_shape(c, N, 0);
    int32_t d;
    set_dt(c, N, TSR_INT32);
    if (a->rank < 1 || !norm_axis(A->axis, a->rank, &A->axis))
        SHAPE("%s: axis out of range", c->who);
    o->rank = 0;
    for (d = 0; d < a->rank; d++)
        if (d != A->axis || A->keepdims)
            o->dim[o->rank++] = d == A->axis ? 1 : a->dim[d];
    return TSR_OK;
}

static tsr_code run_argmax(const tsr_node *N, const tsr_plan *p)
{
    const argmax_attr *A = (const argmax_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    tsr_k_argmax(N->op->kop, kdt(p, N->in[0]), p->data[N->in[0]], (int32_t *)p->data[N->out],
                 dims_prod(a, 0, A->axis), a->dim[A->axis], dims_prod(a, A->axis + 1, a->rank));
    return TSR_OK;
}

/* ---- LogSoftmax ---- */
static tsr_code run_log_softmax(const tsr_node *N, const tsr_plan *p)
{
    const softmax_attr *A = (const softmax_attr *)N->attr;
    const tsr_shape *a = &p->shape[N->in[0]];
    tsr_k_log_softmax((const float *)p->data[N->in[0]], (float *)p->data[N->out], dims_prod(a, 0, A->axis),
                      a->dim[A->axis], dims_prod(a, A->axis + 1, a->rank));
    return TSR_OK;
}

/* ==== format 1.2: Conv2D, MaxPool2D, AveragePool2D (NCHW) ==== */
typedef struct {
    tsr_ints kernel, strides, pads, dilations; /* n = -1: absent; defaults set by the shape function */
    int32_t group, count_include_pad;
} window_attr;

static const tsr_attr_def conv_keys[] = {
    {"strides", TSR_A_INTS, 0, offsetof(window_attr, strides), 0},
    {"pads", TSR_A_INTS, 0, offsetof(window_attr, pads), 0},
    {"dilations", TSR_A_INTS, 0, offsetof(window_attr, dilations), 0},
    {"group", TSR_A_INT, 0, offsetof(window_attr, group), 1},
    {NULL, 0, 0, 0, 0}};
static const tsr_attr_def maxpool_keys[] = {
    {"kernel_shape", TSR_A_INTS, 1, offsetof(window_attr, kernel), 0},
    {"strides", TSR_A_INTS, 0, offsetof(window_attr, strides), 0},
    {"pads", TSR_A_INTS, 0, offsetof(window_attr, pads), 0},
    {NULL, 0, 0, 0, 0}};
static const tsr_attr_def avgpool_keys[] = {
    {"kernel_shape", TSR_A_INTS, 1, offsetof(window_attr, kernel), 0},
    {"strides", TSR_A_INTS, 0, offsetof(window_attr, strides), 0},
    {"pads", TSR_A_INTS, 0, offsetof(window_attr, pads), 0},
    {"count_include_pad", TSR_A_BOOL, 0, offsetof(window_attr, count_include_pad), 0},
    {NULL, 0, 0, 0, 0}};

/* An absent array (n = -1) or exactly n entries in [lo, 65535]. */
static int ints_ok(const tsr_ints *a, int32_t n, int32_t lo)
{
    int32_t k;
    if (a->n < 0)
        return 1;
    for (k = 0; k < a->n; k++)
        if (a->v[k] < lo || a->v[k] > 65535)
            return 0;
    return a->n == n;
}

/* SPEC 6: attribute arrays of the right length and range. (The schema
 * step parses only the row's own keys: each check reads only those.) */
static const char *window_check(const window_attr *A)
{
    if (!ints_ok(&A->strides, 2, 1))
        return "strides must be 2 integers in [1, 65535]";
    if (!ints_ok(&A->pads, 4, 0))
        return "pads must be 4 integers in [0, 65535] (top, left, bottom, right)";
    return NULL;
}

static const char *conv_check(const void *attr)
{
    const window_attr *A = (const window_attr *)attr;
    if (!ints_ok(&A->dilations, 2, 1))
        return "dilations must be 2 integers in [1, 65535]";
    if (A->group < 1 || A->group > 65535)
        return "group must be an integer in [1, 65535]";
    return window_check(A);
}

static const char *pool_check(const void *attr)
{
    const window_attr *A = (const window_attr *)attr;
    const char *msg = window_check(A);
    int32_t k;
    if (!ints_ok(&A->kernel, 2, 1))
        return "kernel_shape must be 2 integers in [1, 65535]";
    for (k = 0; !msg && A->pads.n == 4 && k < 4; k++)
        if (A->pads.v[k] >= A->kernel.v[k % 2])
            return "each pad must be below the kernel size on its axis (top, bottom < kH; left, right < kW)";
    return msg;
}

static void ints_default(tsr_ints *a, int32_t n, int32_t v)
{
    int32_t k;
    if (a->n >= 0)
        return;
    a->n = n;
    for (k = 0; k < n; k++)
        a->v[k] = v;
}

/* The output (N, ch, Hout, Wout) of X's spatial dims under the window
 * kH x kW (dilated by the attribute, 1 for pooling). */
static tsr_code shape_window(const tsr_infer *c, window_attr *A, const tsr_shape *x, int32_t ch, int32_t kH,
                             int32_t kW, tsr_shape *o)
{
    int32_t d;
    ints_default(&A->strides, 2, 1);
    ints_default(&A->pads, 4, 0);
    ints_default(&A->dilations, 2, 1);
    o->rank = 4;
    o->dim[0] = x->dim[0];
    o->dim[1] = ch;
    for (d = 0; d < 2; d++) {
        int64_t ext = (int64_t)A->dilations.v[d] * ((d ? kW : kH) - 1) + 1;
        int64_t padded = (int64_t)x->dim[2 + d] + A->pads.v[d] + A->pads.v[d + 2];
        if (padded < ext)
            SHAPE("%s: the padded %s (%ld) is smaller than the kernel extent (%ld)", c->who, d ? "width" : "height",
                  (long)padded, (long)ext);
        o->dim[2 + d] = (int32_t)((padded - ext) / A->strides.v[d] + 1);
    }
    return TSR_OK;
}

static tsr_code shape_nchw(const tsr_infer *c, const tsr_node *N, const tsr_shape *x)
{
    if (x->rank != 4)
        SHAPE("%s: X must have rank 4 (N, C, H, W), has rank %ld", c->who, (long)x->rank);
    if (x->dim[1] < 1 || x->dim[2] < 1 || x->dim[3] < 1)
        SHAPE("%s: C, H and W of X must be integers, not symbols", c->who);
    (void)N;
    return TSR_OK;
}

static tsr_code shape_conv(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    window_attr *A = (window_attr *)N->attr;
    const tsr_shape *x = in_shape(c, N, 0), *w = in_shape(c, N, 1);
    int32_t d, C, M;
    if (shape_nchw(c, N, x))
        return TSR_E_SHAPE;
    if (w->rank != 4)
        SHAPE("%s: W must have rank 4 (M, C/group, kH, kW), has rank %ld", c->who, (long)w->rank);
    for (d = 0; d < 4; d++)
        if (w->dim[d] < 1)
            SHAPE("%s: the dimensions of W must be integers, not symbols", c->who);
    C = x->dim[1];
    M = w->dim[0];
    if (C % A->group || M % A->group)
        SHAPE("%s: group %ld must divide C (%ld) and M (%ld)", c->who, (long)A->group, (long)C, (long)M);
    if (w->dim[1] != C / A->group)
        SHAPE("%s: W has %ld input channels, expected C/group = %ld", c->who, (long)w->dim[1], (long)(C / A->group));
    if (N->nin == 3) {
        const tsr_shape *b = in_shape(c, N, 2);
        if (b->rank != 1 || b->dim[0] != M)
            SHAPE("%s: B must have shape [%ld] (M)", c->who, (long)M);
    }
    return shape_window(c, A, x, M, w->dim[2], w->dim[3], o);
}

static tsr_code shape_pool(const tsr_infer *c, tsr_node *N, tsr_shape *o)
{
    window_attr *A = (window_attr *)N->attr;
    const tsr_shape *x = in_shape(c, N, 0);
    if (shape_nchw(c, N, x))
        return TSR_E_SHAPE;
    A->dilations.n = -1;
    return shape_window(c, A, x, x->dim[1], A->kernel.v[0], A->kernel.v[1], o);
}

/* The kernels' geometry (kernels.h) from concrete shapes. */
static void conv_geom(const window_attr *A, const tsr_shape *x, const tsr_shape *w, const tsr_shape *y, int32_t *g)
{
    int32_t k;
    g[0] = x->dim[0], g[1] = x->dim[1], g[2] = x->dim[2], g[3] = x->dim[3];
    g[4] = w->dim[0], g[5] = w->dim[2], g[6] = w->dim[3];
    g[7] = A->strides.v[0], g[8] = A->strides.v[1], g[9] = A->dilations.v[0], g[10] = A->dilations.v[1];
    for (k = 0; k < 4; k++)
        g[11 + k] = A->pads.v[k];
    g[15] = A->group, g[16] = y->dim[2], g[17] = y->dim[3];
}

static tsr_code run_conv(const tsr_node *N, const tsr_plan *p)
{
    int32_t g[18];
    const float *b = N->nin == 3 ? (const float *)p->data[N->in[2]] : NULL;
    conv_geom((const window_attr *)N->attr, &p->shape[N->in[0]], &p->shape[N->in[1]], &p->shape[N->out], g);
#if defined(TSR_K_DISPATCH)
    tsr_k_conv2d_ws((const float *)p->data[N->in[0]], (const float *)p->data[N->in[1]], b, (float *)p->data[N->out],
                    g, p->scratch);
#else
    tsr_k_conv2d((const float *)p->data[N->in[0]], (const float *)p->data[N->in[1]], b, (float *)p->data[N->out], g);
#endif
    return TSR_OK;
}

/* Run scratch: the vectorised kernel's workspace (library builds). */
static int64_t conv_scratch(const tsr_node *N, const tsr_binding *bd)
{
#if defined(TSR_K_DISPATCH)
    const tsr_value *v = bd->m->values;
    tsr_shape x, w, y;
    int32_t g[18];
    if (tsr_bound_shape(bd, &v[N->in[0]].shape, &x) < 0 || tsr_bound_shape(bd, &v[N->out].shape, &y) < 0)
        return 0; /* E_LIMIT, reported by the layout */
    tsr_bound_shape(bd, &v[N->in[1]].shape, &w);
    conv_geom((const window_attr *)N->attr, &x, &w, &y, g);
    return tsr_k_conv2d_ws_floats(g);
#else
    (void)N, (void)bd;
    return 0;
#endif
}

static tsr_code run_pool(const tsr_node *N, const tsr_plan *p)
{
    const window_attr *A = (const window_attr *)N->attr;
    const tsr_shape *x = &p->shape[N->in[0]], *y = &p->shape[N->out];
    int32_t g[14], k;
    g[0] = x->dim[0], g[1] = x->dim[1], g[2] = x->dim[2], g[3] = x->dim[3];
    g[4] = A->kernel.v[0], g[5] = A->kernel.v[1], g[6] = A->strides.v[0], g[7] = A->strides.v[1];
    for (k = 0; k < 4; k++)
        g[8 + k] = A->pads.v[k];
    g[12] = y->dim[2], g[13] = y->dim[3];
    if (N->op->kop)
        tsr_k_avgpool2d((const float *)p->data[N->in[0]], (float *)p->data[N->out], g, A->count_include_pad);
    else
        tsr_k_maxpool2d((const float *)p->data[N->in[0]], (float *)p->data[N->out], g);
    return TSR_OK;
}

/* ---- the table ----
 * dt: the operand dtypes (TSR_DT_*); since: the minor version that added the op. */
#define UNARY(name, kernel) \
    {name, 1, 1, no_keys, 0, NULL, shape_same, run_unary, kernel, 0, NULL, NULL, TSR_DT_F32, 0}
#define BINARY(name, kop) \
    {name, 2, 2, no_keys, 0, NULL, shape_broadcast, run_binary, NULL, kop, NULL, NULL, TSR_DT_F32, 0}
#define REDUCE(name, kop, since) \
    {name, 1, 1, reduce_keys, ATTR(reduce_attr), NULL, shape_reduce, run_reduce, NULL, kop, NULL, NULL, TSR_DT_F32, since}
#define COMPARE(name, kop, dt) \
    {name, 2, 2, no_keys, 0, NULL, shape_broadcast, run_compare, NULL, kop, NULL, NULL, dt, 1}
#define ONE_AXIS(name, nmin, nmax, keys, shape, run, dt) \
    {name, nmin, nmax, keys, ATTR(axis_attr), NULL, shape, run, NULL, 0, NULL, NULL, dt, 1}

static const tsr_op ops[] = {
    /* name, inputs min max, attribute keys and struct, check, shape, run, kernel, kop, copies_init, scratch,
     * dt, since */
    {"MatMul", 2, 2, matmul_keys, ATTR(matmul_attr), NULL, shape_matmul, run_matmul, NULL, 0, matmul_copies,
     matmul_scratch, TSR_DT_F32, 0},
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
    {"Clip", 1, 1, clip_keys, ATTR(clip_attr), clip_check, shape_same, run_clip, NULL, 0, NULL, NULL, TSR_DT_F32, 0},
    UNARY("Exp", tsr_k_exp),
    UNARY("Log", tsr_k_log),
    UNARY("Sigmoid", tsr_k_sigmoid),
    UNARY("Tanh", tsr_k_tanh),
    UNARY("Softplus", tsr_k_softplus),
    {"Softmax", 1, 1, softmax_keys, ATTR(softmax_attr), NULL, shape_softmax, run_softmax, NULL, 0, NULL, NULL,
     TSR_DT_F32, 0},
    REDUCE("ReduceSum", TSR_K_RSUM, 0),
    REDUCE("ReduceMean", TSR_K_RMEAN, 0),
    REDUCE("ReduceMax", TSR_K_RMAX, 0),
    {"Transpose", 1, 1, transpose_keys, ATTR(transpose_attr), NULL, shape_transpose, run_transpose, NULL, 0, NULL,
     NULL, TSR_DT_SAME, 0},
    {"Reshape", 1, 1, reshape_keys, ATTR(reshape_attr), NULL, shape_reshape, run_copy, NULL, 0, NULL, NULL,
     TSR_DT_SAME, 0},
    /* format 1.1 */
    COMPARE("Greater", TSR_K_GT, TSR_DT_CMP),
    COMPARE("GreaterOrEqual", TSR_K_GE, TSR_DT_CMP),
    COMPARE("Less", TSR_K_LT, TSR_DT_CMP),
    COMPARE("LessOrEqual", TSR_K_LE, TSR_DT_CMP),
    COMPARE("Equal", TSR_K_EQ, TSR_DT_CMP),
    COMPARE("NotEqual", TSR_K_NE, TSR_DT_CMP),
    COMPARE("And", TSR_K_AND, TSR_DT_I32),
    COMPARE("Or", TSR_K_OR, TSR_DT_I32),
    {"Not", 1, 1, no_keys, 0, NULL, shape_same, run_not, NULL, 0, NULL, NULL, TSR_DT_I32, 1},
    {"Where", 3, 3, no_keys, 0, NULL, shape_where, run_where, NULL, 0, NULL, NULL, TSR_DT_CUSTOM, 1},
    {"Cast", 1, 1, cast_keys, ATTR(cast_attr), NULL, shape_cast, run_cast, NULL, 0, NULL, NULL, TSR_DT_CUSTOM, 1},
    ONE_AXIS("Gather", 2, 2, axis0_keys, shape_gather, run_gather, TSR_DT_CUSTOM),
    ONE_AXIS("Concat", 1, 64, axis_req_keys, shape_concat, run_concat, TSR_DT_SAME),
    {"Slice", 1, 1, slice_keys, ATTR(slice_attr), slice_check, shape_slice, run_slice, NULL, 0, NULL, NULL,
     TSR_DT_SAME, 1},
    {"ArgMax", 1, 1, argmax_keys, ATTR(argmax_attr), NULL, shape_argmax, run_argmax, NULL, 1, NULL, NULL,
     TSR_DT_CUSTOM, 1},
    {"ArgMin", 1, 1, argmax_keys, ATTR(argmax_attr), NULL, shape_argmax, run_argmax, NULL, 0, NULL, NULL,
     TSR_DT_CUSTOM, 1},
    REDUCE("ReduceMin", TSR_K_RMIN, 1),
    REDUCE("ReduceProd", TSR_K_RPROD, 1),
    {"LogSoftmax", 1, 1, softmax_keys, ATTR(softmax_attr), NULL, shape_softmax, run_log_softmax, NULL, 0, NULL, NULL,
     TSR_DT_F32, 1},
    {"Pow", 2, 2, no_keys, 0, NULL, shape_broadcast, run_binary, NULL, TSR_K_POW, NULL, NULL, TSR_DT_F32, 1},
    /* format 1.2 */
    {"Conv2D", 2, 3, conv_keys, ATTR(window_attr), conv_check, shape_conv, run_conv, NULL, 0, NULL, conv_scratch,
     TSR_DT_F32, 2},
    {"MaxPool2D", 1, 1, maxpool_keys, ATTR(window_attr), pool_check, shape_pool, run_pool, NULL, 0, NULL, NULL,
     TSR_DT_F32, 2},
    {"AveragePool2D", 1, 1, avgpool_keys, ATTR(window_attr), pool_check, shape_pool, run_pool, NULL, 1, NULL, NULL,
     TSR_DT_F32, 2},
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
