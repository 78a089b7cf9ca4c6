/*
 * Binding input shapes and running (SPEC 5 rows 10-11, SPEC 6-7).
 * tsr_run allocates nothing: every buffer comes from the caller's workspace,
 * laid out by the same code tsr_bind uses to size it. Each node runs by its
 * op's row (ops.c).
 */
#include <string.h>

#include "internal.h"

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
        if (t->dtype != v->dtype)
            return tsr_fail(err, TSR_E_INPUT, "input '%s': dtype %s, model declares %s", v->name,
                            t->dtype == TSR_INT32 ? "int32" : t->dtype == TSR_FLOAT32 ? "float32" : "unknown",
                            v->dtype == TSR_INT32 ? "int32" : "float32");
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

int64_t tsr_bound_shape(const tsr_binding *b, const tsr_shape *s, tsr_shape *out)
{
    int64_t c = 1;
    int32_t d;
    out->rank = s->rank;
    for (d = 0; d < s->rank; d++) {
        int32_t x = s->dim[d] > 0 ? s->dim[d] : sym_value(b->m, b->in, b->slot, -s->dim[d] - 1);
        out->dim[d] = x;
        c *= x;
        if (c > TSR_MAX_ELEMENTS)
            return -1; /* checked per multiplication: never overflows */
    }
    return c;
}

/* Lay out the workspace (p == NULL: only size it). */
static tsr_code layout(const tsr_model *m, const tsr_tensor *in, int32_t n_in,
                       unsigned char *ws, size_t ws_len, size_t *need, tsr_plan *p, tsr_error *err)
{
    int32_t slot[256], i;
    size_t off = 0, smax = 0;
    tsr_binding b;
    tsr_code rc;
    if (n_in < 0 || (n_in > 0 && !in))
        return tsr_fail(err, TSR_E_INPUT, "bad input array");
    if ((rc = match_inputs(m, in, n_in, slot, err)) != TSR_OK ||
        (rc = check_inputs(m, in, slot, err)) != TSR_OK)
        return rc;
    b.m = m;
    b.in = in;
    b.slot = slot;
    if (!add_size(&off, (size_t)m->n_values * sizeof(void *)) ||
        !add_size(&off, (size_t)m->n_values * sizeof(tsr_shape)))
        return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
    if (ws) {
        p->data = (const void **)(void *)ws;
        p->m = m;
        p->shape = (tsr_shape *)(void *)(ws + align64((size_t)m->n_values * sizeof(void *)));
    }
    for (i = 0; i < m->n_values; i++) {
        const tsr_value *v = &m->values[i];
        tsr_shape cs;
        int64_t c = tsr_bound_shape(&b, &v->shape, &cs);
        if (c < 0)
            return tsr_fail(err, TSR_E_LIMIT, "tensor '%s' would exceed 2^26 elements", v->name);
        if (ws) {
            p->shape[i] = cs;
            p->data[i] = v->kind == V_INIT ? v->data : NULL;
        }
        if (v->reuses) { /* shares its operand's buffer, an earlier node output (ids in node order) */
            if (ws)
                p->data[i] = p->data[v->reuses - 1];
        } else if (v->kind == V_NODE) {
            if (ws && off + (size_t)c * 4 <= ws_len)
                p->data[i] = (const void *)(ws + off);
            if (!add_size(&off, (size_t)c * 4)) /* float or int32_t */
                return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
        }
    }
    for (i = 0; i < m->n_nodes; i++) { /* one scratch, the largest any node needs */
        const tsr_node *N = &m->nodes[i];
        if (N->op->scratch) {
            int64_t c = N->op->scratch(N, &b);
            if (c > 0 && (size_t)c > smax)
                smax = (size_t)c;
        }
    }
    if (ws)
        p->scratch = (float *)(void *)(ws + off);
    if (!add_size(&off, smax * sizeof(float)))
        return tsr_fail(err, TSR_E_LIMIT, "workspace size overflows");
    *need = off;
    if (ws && off > ws_len)
        return tsr_fail(err, TSR_E_ARENA, "workspace too small: %lu bytes needed", (unsigned long)off);
    for (i = 0; ws && i < m->n_inputs; i++) {
        const tsr_tensor *t = &in[slot[i]];
        p->data[m->inputs[i]] = t->dtype == TSR_INT32 ? (const void *)t->idata : (const void *)t->data;
    }
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

tsr_code tsr_run(const tsr_model *m, const tsr_tensor *inputs, int32_t n_inputs,
                 tsr_tensor *outputs, void *workspace, size_t workspace_len, tsr_error *err)
{
    tsr_plan p;
    size_t need = 0;
    int32_t i, d;
    tsr_code rc;
    if (!workspace || ((uintptr_t)workspace & 7u))
        return tsr_fail(err, TSR_E_ARENA, "workspace missing or not 8-byte aligned");
    rc = layout(m, inputs, n_inputs, (unsigned char *)workspace, workspace_len, &need, &p, err);
    if (rc)
        return rc;
    p.err = err;
    for (i = 0; i < m->n_nodes; i++) /* a failing node leaves the outputs untouched */
        if ((rc = m->nodes[i].op->run(&m->nodes[i], &p)) != TSR_OK)
            return rc;
    for (i = 0; i < m->n_outputs; i++) {
        int32_t v = m->outputs[i];
        int is_int = m->values[v].dtype == TSR_INT32;
        outputs[i].name = m->values[v].name;
        outputs[i].dtype = m->values[v].dtype;
        outputs[i].data = is_int ? NULL : (const float *)p.data[v];
        outputs[i].idata = is_int ? (const int32_t *)p.data[v] : NULL;
        outputs[i].rank = p.shape[v].rank;
        for (d = 0; d < TSR_MAX_RANK; d++)
            outputs[i].shape[d] = d < p.shape[v].rank ? p.shape[v].dim[d] : 0;
    }
    tsr_fail(err, TSR_OK, "ok");
    return TSR_OK;
}
