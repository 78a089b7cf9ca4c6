/*
 * Binding input shapes and running (SPEC 5 rows 10-11, SPEC 6-7).
 * tsr_run allocates nothing: every buffer comes from the caller's workspace,
 * laid out by the same code tsr_bind uses to size it.
 */
#include <string.h>

#include "internal.h"
#include "kernels.h"

#define LIM_ELEMS 67108864LL

typedef struct {
    const float **data; /* per value */
    tsr_shape *shape;   /* per value, concrete */
    float *tscratch;    /* largest MatMul transpose scratch */
} plan;

static size_t align64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

/* Checked a + b into *acc; 0 on overflow. */
static int add_size(size_t *acc, size_t b)
{
    b = align64(b);
    if (b < 64 && b != 0)
        return 0;
    if (*acc > (size_t)-1 - b)
        return 0;
    *acc += b;
    return 1;
}

/* Match inputs to graph inputs; returns the graph input order mapping. */
static tsr_code match_inputs(const tsr_model *m, const tsr_tensor *in, int32_t n,
                             int32_t *slot, tsr_error *err)
{
    int32_t i, j;
    for (j = 0; j < m->n_inputs; j++)
        slot[j] = -1;
    for (i = 0; i < n; i++) {
        for (j = 0; j < m->n_inputs; j++)
            if (in[i].name && !strcmp(in[i].name, m->values[m->inputs[j]].name))
                break;
        if (j == m->n_inputs)
            return tsr_fail(err, TSR_E_INPUT, "unknown input '%.200s'", in[i].name ? in[i].name : "(null)");
        if (slot[j] >= 0)
            return tsr_fail(err, TSR_E_INPUT, "input '%.200s' given twice", in[i].name);
        slot[j] = i;
    }
    for (j = 0; j < m->n_inputs; j++)
        if (slot[j] < 0)
            return tsr_fail(err, TSR_E_INPUT, "missing input '%s'", m->values[m->inputs[j]].name);
    return TSR_OK;
}

/* Value of symbol s: the dim of the input that first names it. */
static int32_t sym_value(const tsr_model *m, const tsr_tensor *in, const int32_t *slot, int32_t s)
{
    return in[slot[m->sym_first[s]]].shape[m->sym_dim[s]];
}

static tsr_code check_inputs(const tsr_model *m, const tsr_tensor *in, const int32_t *slot,
                             tsr_error *err)
{
    int32_t j, d;
    for (j = 0; j < m->n_inputs; j++) {
        const tsr_value *v = &m->values[m->inputs[j]];
        const tsr_tensor *t = &in[slot[j]];
        if (t->rank != v->shape.rank)
            return tsr_fail(err, TSR_E_INPUT, "input '%s': rank %ld, model declares %ld", v->name,
                            (long)t->rank, (long)v->shape.rank);
        for (d = 0; d < t->rank; d++) {
            int32_t want = v->shape.dim[d];
            if (t->shape[d] < 1)
                return tsr_fail(err, TSR_E_INPUT, "input '%s': dimension %ld is < 1", v->name, (long)d);
            if (want > 0 && t->shape[d] != want)
                return tsr_fail(err, TSR_E_INPUT, "input '%s': dimension %ld is %ld, model declares %ld",
                                v->name, (long)d, (long)t->shape[d], (long)want);
            if (want < 0 && t->shape[d] != sym_value(m, in, slot, -want - 1))
                return tsr_fail(err, TSR_E_INPUT, "input '%s': symbol '%s' bound inconsistently",
                                v->name, m->syms[-want - 1]);
        }
    }
    return TSR_OK;
}

static int64_t concrete(const tsr_model *m, const tsr_tensor *in, const int32_t *slot,
                        const tsr_shape *s, tsr_shape *out)
{
    int64_t c = 1;
    int32_t d;
    out->rank = s->rank;
    for (d = 0; d < s->rank; d++) {
        int32_t x = s->dim[d] > 0 ? s->dim[d] : sym_value(m, in, slot, -s->dim[d] - 1);
        out->dim[d] = x;
        c *= x;
        if (c > LIM_ELEMS)
            return -1; /* checked per multiplication: never overflows */
    }
    return c;
}

static int64_t count_of(const tsr_shape *s)
{
    int64_t c = 1;
    int32_t d;
    for (d = 0; d < s->rank; d++)
        c *= s->dim[d];
    return c;
}

/* Lay out the workspace (p == NULL: only size it). */
static tsr_code layout(const tsr_model *m, const tsr_tensor *in, int32_t n_in,
                       unsigned char *ws, size_t ws_len, size_t *need, plan *p, tsr_error *err)
{
    int32_t slot[256], i;
    size_t off = 0, tmax = 0;
    tsr_code rc;
    if (n_in < 0 || (n_in > 0 && !in))
        return tsr_fail(err, TSR_E_INPUT, "bad input array");
    if ((rc = match_inputs(m, in, n_in, slot, err)) != TSR_OK ||
        (rc = check_inputs(m, in, slot, err)) != TSR_OK)
        return rc;
    if (!add_size(&off, (size_t)m->n_values * sizeof(float *)) ||
        !add_size(&off, (size_t)m->n_values * sizeof(tsr_shape)))
        return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
    if (ws) {
        p->data = (const float **)(void *)ws;
        p->shape = (tsr_shape *)(void *)(ws + align64((size_t)m->n_values * sizeof(float *)));
    }
    for (i = 0; i < m->n_values; i++) {
        const tsr_value *v = &m->values[i];
        tsr_shape cs;
        int64_t c = concrete(m, in, slot, &v->shape, &cs);
        if (c < 0)
            return tsr_fail(err, TSR_E_LIMIT, "tensor '%s' would exceed 2^26 elements", v->name);
        if (ws) {
            p->shape[i] = cs;
            p->data[i] = v->kind == V_INIT ? v->data : NULL;
        }
        if (v->kind == V_NODE) {
            if (ws && off + (size_t)c * 4 <= ws_len)
                p->data[i] = (const float *)(void *)(ws + off);
            if (!add_size(&off, (size_t)c * sizeof(float)))
                return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
        }
    }
    for (i = 0; i < m->n_nodes; i++) { /* transpose scratch for MatMul(tb) */
        const tsr_node *N = &m->nodes[i];
        if (N->op == OP_MATMUL && N->tb && !N->bt) {
            size_t c = 0;
            tsr_shape cs;
            c = (size_t)concrete(m, in, slot, &m->values[N->in[1]].shape, &cs);
            if (c > tmax)
                tmax = c;
        }
    }
    if (ws)
        p->tscratch = (float *)(void *)(ws + off);
    if (!add_size(&off, tmax * sizeof(float)))
        return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
    *need = off;
    if (ws && off > ws_len)
        return tsr_fail(err, TSR_E_ARENA, "workspace too small: %lu bytes needed", (unsigned long)off);
    for (i = 0; ws && i < m->n_inputs; i++)
        p->data[m->inputs[i]] = in[slot[i]].data;
    return TSR_OK;
}

tsr_code tsr_bind(const tsr_model *m, const tsr_tensor *inputs, int32_t n_inputs,
                  size_t *workspace_bytes, tsr_error *err)
{
    tsr_code rc = layout(m, inputs, n_inputs, NULL, 0, workspace_bytes, NULL, err);
    if (!rc)
        tsr_fail(err, TSR_OK, "ok");
    return rc;
}

/* ---- executing one node ---- */
static void run_binary(const tsr_node *N, plan *p)
{
    static const int32_t kop[] = {0, TSR_K_ADD, TSR_K_SUB, TSR_K_MUL, TSR_K_DIV, TSR_K_MAX, TSR_K_MIN};
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
    tsr_k_binary(kop[N->op], p->data[N->in[0]], p->data[N->in[1]], (float *)p->data[N->out],
                 o->rank, o->dim, sa, sb);
}

static void run_matmul(const tsr_node *N, plan *p)
{
    const tsr_shape *a = &p->shape[N->in[0]], *b = &p->shape[N->in[1]];
    int32_t M = N->ta ? a->dim[1] : a->dim[0], K = N->ta ? a->dim[0] : a->dim[1];
    int32_t Nn = N->tb ? b->dim[0] : b->dim[1];
    const float *bp = p->data[N->in[1]];
    if (N->tb && N->bt) {
        bp = N->bt;
    } else if (N->tb) {
        int32_t perm[2] = {1, 0};
        tsr_k_transpose(bp, p->tscratch, 2, b->dim, perm);
        bp = p->tscratch;
    }
    tsr_k_matmul(p->data[N->in[0]], bp, (float *)p->data[N->out], M, K, Nn, N->ta, 0);
}

static void run_reduce(const tsr_node *N, plan *p)
{
    static const int32_t kop[] = {TSR_K_RSUM, TSR_K_RMEAN, TSR_K_RMAX};
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t red[TSR_MAX_RANK], d;
    for (d = 0; d < a->rank; d++)
        red[d] = N->naxes == 0;
    for (d = 0; d < N->naxes; d++)
        red[N->axes[d] < 0 ? N->axes[d] + a->rank : N->axes[d]] = 1;
    tsr_k_reduce(kop[N->op - OP_RSUM], p->data[N->in[0]], (float *)p->data[N->out], a->rank, a->dim, red);
}

static void run_node(const tsr_node *N, plan *p)
{
    const float *x = p->data[N->in[0]];
    float *y = (float *)p->data[N->out];
    const tsr_shape *a = &p->shape[N->in[0]];
    int32_t n = (int32_t)count_of(&p->shape[N->out]);
    switch (N->op) {
    case OP_MATMUL: run_matmul(N, p); break;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM:
        run_binary(N, p);
        break;
    case OP_NEG: tsr_k_neg(x, y, n); break;
    case OP_ABS: tsr_k_abs(x, y, n); break;
    case OP_SQRT: tsr_k_sqrt(x, y, n); break;
    case OP_RELU: tsr_k_relu(x, y, n); break;
    case OP_EXP: tsr_k_exp(x, y, n); break;
    case OP_LOG: tsr_k_log(x, y, n); break;
    case OP_SIGMOID: tsr_k_sigmoid(x, y, n); break;
    case OP_TANH: tsr_k_tanh(x, y, n); break;
    case OP_SOFTPLUS: tsr_k_softplus(x, y, n); break;
    case OP_CLIP: tsr_k_clip(x, y, n, N->lo, N->hi); break;
    case OP_SOFTMAX: {
        int32_t ax = (int32_t)(N->axis < 0 ? N->axis + a->rank : N->axis), d, outer = 1, inner = 1;
        for (d = 0; d < ax; d++)
            outer *= a->dim[d];
        for (d = ax + 1; d < a->rank; d++)
            inner *= a->dim[d];
        tsr_k_softmax(x, y, outer, a->dim[ax], inner);
        break;
    }
    case OP_RSUM: case OP_RMEAN: case OP_RMAX: run_reduce(N, p); break;
    case OP_TRANSPOSE: {
        int32_t perm[TSR_MAX_RANK], d;
        for (d = 0; d < a->rank; d++)
            perm[d] = (int32_t)N->perm[d];
        tsr_k_transpose(x, y, a->rank, a->dim, perm);
        break;
    }
    case OP_RESHAPE: tsr_k_copy(x, y, n); break;
    default: break;
    }
}

tsr_code tsr_run(const tsr_model *m, const tsr_tensor *inputs, int32_t n_inputs,
                 tsr_tensor *outputs, void *workspace, size_t workspace_len, tsr_error *err)
{
    plan p;
    size_t need = 0;
    int32_t i, d;
    tsr_code rc;
    if (!workspace || ((uintptr_t)workspace & 7u))
        return tsr_fail(err, TSR_E_ARENA, "workspace missing or not 8-byte aligned");
    rc = layout(m, inputs, n_inputs, (unsigned char *)workspace, workspace_len, &need, &p, err);
    if (rc)
        return rc;
    for (i = 0; i < m->n_nodes; i++)
        run_node(&m->nodes[i], &p);
    for (i = 0; i < m->n_outputs; i++) {
        int32_t v = m->outputs[i];
        outputs[i].name = m->values[v].name;
        outputs[i].rank = p.shape[v].rank;
        for (d = 0; d < TSR_MAX_RANK; d++)
            outputs[i].shape[d] = d < p.shape[v].rank ? p.shape[v].dim[d] : 0;
        outputs[i].data = p.data[v];
    }
    tsr_fail(err, TSR_OK, "ok");
    return TSR_OK;
}
