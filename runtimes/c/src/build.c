/*
 * The model in the arena (SPEC section 5, steps 7-9): values, names,
 * symbols, initializer data (data.c), nodes with their inputs and parsed
 * attributes; then the graph (E_GRAPH) and shape inference (E_SHAPE, each
 * op's shape function in ops.c).
 *
 * ld_build runs in both passes (loader.h): in the measuring pass ld_alloc
 * only counts, and the `if (L->arena)` branches below skip what needs the
 * memory. Both passes allocate the same sizes in the same order, so
 * tsr_model_size is exact (up to alignment slack). ld_graph and ld_shapes
 * run at load only and allocate nothing but interned symbols (bounded in
 * the measuring pass).
 */
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "loader.h"

/* ---- names and symbols: open-addressing hash tables in the arena ---- */
static uint32_t hash_str(const char *p, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    return c;
}

/* Copy the (ASCII, schema-checked) string at json offset `at` to the arena. */
static const char *copy_str(ld *L, size_t at)
{
    int ascii;
    size_t len = tj_str_len(L->s, at, &ascii), p = at + 1, k = 0;
    char *d = (char *)ld_alloc(L, len + 1, 1);
    int32_t c;
    if (!d)
        return NULL;
    while ((c = tj_cp(L->s, &p)) >= 0)
        d[k++] = (char)c;
    d[k] = 0;
    return d;
}

/* Find value id by name, or -1. */
static int32_t find_name(const ld *L, const char *name)
{
    size_t mask = L->names_cap - 1, h = hash_str(name, strlen(name)) & mask;
    while (L->names_tab[h] >= 0) {
        if (!strcmp(L->m->values[L->names_tab[h]].name, name))
            return L->names_tab[h];
        h = (h + 1) & mask;
    }
    return -1;
}

static int insert_name(ld *L, int32_t id)
{
    const char *name = L->m->values[id].name;
    size_t mask = L->names_cap - 1, h = hash_str(name, strlen(name)) & mask;
    while (L->names_tab[h] >= 0) {
        if (!strcmp(L->m->values[L->names_tab[h]].name, name))
            return 0;
        h = (h + 1) & mask;
    }
    L->names_tab[h] = id;
    return 1;
}

int32_t ld_sym_id(ld *L, size_t at)
{
    size_t mask = L->sym_cap - 1, h, p = at + 1, k = 0;
    char buf[1024];
    int32_t c;
    while ((c = tj_cp(L->s, &p)) >= 0 && k + 1 < sizeof buf)
        buf[k++] = (char)c;
    buf[k] = 0;
    h = hash_str(buf, k) & mask;
    while (L->sym_tab[h] >= 0) {
        if (!strcmp(L->m->syms[L->sym_tab[h]], buf))
            return L->sym_tab[h];
        h = (h + 1) & mask;
    }
    if ((size_t)L->m->n_syms >= L->syms_cap)
        return -1;
    {
        char *d = (char *)ld_alloc(L, k + 1, 1);
        if (!d)
            return -1;
        memcpy(d, buf, k + 1);
        L->m->syms[L->m->n_syms] = d;
    }
    L->sym_tab[h] = L->m->n_syms;
    return L->m->n_syms++;
}

/* Parse a declared shape into sh (symbols interned). */
static int read_shape(ld *L, size_t shp, tsr_shape *sh)
{
    size_t it = shp, v;
    sh->rank = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        int32_t d;
        if (tj_type(L->s, v) == TJ_NUM) {
            d = (int32_t)tj_num(L->s, v);
        } else {
            int32_t id = ld_sym_id(L, v);
            if (id < 0)
                return 0;
            d = -id - 1;
        }
        sh->dim[sh->rank++] = d;
    }
    return 1;
}

/* ---- building (both passes) ---- */

/* The model struct, value and node arrays, hash tables. */
static tsr_code build_tables(ld *L)
{
    size_t nv = L->n_in + L->n_init + L->n_nodes;
    tsr_model *m = (tsr_model *)ld_alloc(L, sizeof *m, 16);
    tsr_value *vals;
    tsr_node *nodes;
    int32_t *ins, *outs, *tab, *stab, *sf, *sd;
    const char **syms;
    NEED(m);
    L->m = m;
    L->names_cap = pow2_at_least(nv);
    L->syms_cap = L->n_symdims + 1;
    L->sym_cap = pow2_at_least(L->syms_cap);
    vals = (tsr_value *)ld_alloc(L, nv * sizeof *vals, 16);
    nodes = (tsr_node *)ld_alloc(L, L->n_nodes * sizeof *nodes, 16);
    ins = (int32_t *)ld_alloc(L, L->n_in * 4, 4);
    outs = (int32_t *)ld_alloc(L, L->n_out * 4, 4);
    syms = (const char **)ld_alloc(L, L->syms_cap * sizeof(char *), 16);
    tab = (int32_t *)ld_alloc(L, L->names_cap * 4, 4);
    stab = (int32_t *)ld_alloc(L, L->sym_cap * 4, 4);
    sf = (int32_t *)ld_alloc(L, L->syms_cap * 4, 4);
    sd = (int32_t *)ld_alloc(L, L->syms_cap * 4, 4);
    NEED(vals && nodes && ins && outs && syms && tab && stab && sf && sd);
    if (!L->arena)
        return TSR_OK;
    memset(m, 0, sizeof *m);
    memset(vals, 0, nv * sizeof *vals);
    memset(nodes, 0, L->n_nodes * sizeof *nodes);
    memset(tab, 0xFF, L->names_cap * 4);
    memset(stab, 0xFF, L->sym_cap * 4);
    memset(sf, 0xFF, L->syms_cap * 4);
    m->values = vals;
    m->nodes = nodes;
    m->inputs = ins;
    m->outputs = outs;
    m->syms = syms;
    m->n_values = (int32_t)nv;
    m->n_nodes = (int32_t)L->n_nodes;
    m->n_inputs = (int32_t)L->n_in;
    m->n_outputs = (int32_t)L->n_out;
    L->names_tab = tab;
    L->sym_tab = stab;
    L->sym_first = sf;
    L->sym_dim = sd;
    return TSR_OK;
}

/* Value names (inputs, initializers, node outputs) and node labels. */
static tsr_code build_names(ld *L)
{
    tsr_model *m = L->m;
    size_t i, it, v, id = 0;
    for (i = 0; i < 3; i++) {
        it = i == 0 ? L->g_in : i == 1 ? L->g_init : L->g_nodes;
        while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
            size_t nm;
            if (i == 2) {
                size_t o = tj_get(L->s, L->n, v, "outputs");
                tj_next(L->s, L->n, &o, 0, NULL, &nm);
            } else {
                nm = tj_get(L->s, L->n, v, "name");
            }
            if (!L->arena) {
                int ascii;
                ld_alloc(L, tj_str_len(L->s, nm, &ascii) + 1, 1);
                if (i == 2 && (nm = tj_get(L->s, L->n, v, "name")) != TJ_NONE)
                    ld_alloc(L, tj_str_len(L->s, nm, &ascii) + 1, 1); /* >= the printable copy */
                continue;
            }
            m->values[id].name = copy_str(L, nm);
            NEED(m->values[id].name);
            m->values[id].kind = i == 0 ? V_INPUT : i == 1 ? V_INIT : V_NODE;
            if (i == 2 && (nm = tj_get(L->s, L->n, v, "name")) != TJ_NONE) {
                /* labels are free text: keep a printable copy */
                char tmp[200];
                size_t len;
                char *d;
                ld_show(L, nm, tmp, sizeof tmp);
                len = strlen(tmp);
                d = (char *)ld_alloc(L, len + 1, 1);
                NEED(d);
                memcpy(d, tmp, len + 1);
                m->nodes[id - L->n_in - L->n_init].label = d;
            }
            id++;
        }
    }
    if (!L->arena) /* symbol strings (upper bound: every occurrence distinct) */
        ld_alloc(L, L->n_symdims * 1025, 1);
    return TSR_OK;
}

/* Shapes of the graph inputs (load only; their symbols are interned first,
 * in order, and bind at run time from the first input that names them). */
static tsr_code build_inputs(ld *L)
{
    size_t it = L->g_in, v;
    int32_t id = 0, d;
    if (!L->arena)
        return TSR_OK;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_value *val = &L->m->values[id];
        val->dtype = ld_dtype(L, tj_get(L->s, L->n, v, "dtype"));
        if (!read_shape(L, tj_get(L->s, L->n, v, "shape"), &val->shape))
            return tsr_fail(L->err, TSR_E_ARENA, "arena too small");
        for (d = 0; d < val->shape.rank; d++) {
            int32_t sid = -val->shape.dim[d] - 1;
            if (sid >= 0 && L->sym_first[sid] < 0) {
                L->sym_first[sid] = id;
                L->sym_dim[sid] = d;
            }
        }
        L->m->inputs[id] = id;
        id++;
    }
    return TSR_OK;
}

/* Initializers: shape, data (step 7, E_DATA), and room for a load-time copy
 * when some node's op wants one (tsr_op.copies_init). */
static tsr_code build_inits(ld *L)
{
    size_t it = L->g_init, v, k = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_value *val = L->arena ? &L->m->values[L->n_in + k] : NULL;
        tsr_shape sh;
        size_t sit = tj_get(L->s, L->n, v, "shape"), e;
        uint64_t count = 1;
        void *d;
        sh.rank = 0;
        while (tj_next(L->s, L->n, &sit, 0, NULL, &e)) {
            sh.dim[sh.rank] = (int32_t)tj_num(L->s, e);
            count *= (uint64_t)sh.dim[sh.rank++];
        }
        d = ld_alloc(L, (size_t)count * 4, 16); /* float or int32_t: 4 bytes either way */
        NEED(d || count == 0);
        if (val) {
            tsr_code rc;
            val->dtype = ld_dtype(L, tj_get(L->s, L->n, v, "dtype"));
            val->shape = sh;
            val->data = d;
            if ((rc = ld_load_data(L, v, val, d, count)) != TSR_OK)
                return rc;
        }
        if (L->any_copy) {
            void *t = ld_alloc(L, (size_t)count * 4, 16);
            NEED(t || count == 0);
            if (val)
                val->copy = t;
        }
        k++;
    }
    return TSR_OK;
}

/* Nodes: op, room for the input ids, the attribute struct (parsed at load;
 * Reshape's symbols are interned after the inputs' ones). */
static tsr_code build_nodes(ld *L)
{
    size_t it = L->g_nodes, nd, k = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        const tsr_op *op = tsr_op_find(L->s, tj_get(L->s, L->n, nd, "op"));
        size_t nin = tj_count(L->s, L->n, tj_get(L->s, L->n, nd, "inputs"));
        int32_t *in = (int32_t *)ld_alloc(L, nin * sizeof *in, 4);
        void *attr = op->attr_size ? ld_alloc(L, op->attr_size, 8) : NULL;
        NEED(in && (attr || !op->attr_size));
        if (L->arena) {
            tsr_node *N = &L->m->nodes[k];
            N->op = op;
            N->index = (int32_t)k;
            N->in = in;
            N->out = (int32_t)(L->n_in + L->n_init + k);
            N->attr = attr;
            if (attr) { /* fields no key sets (MatMul's bt) start at zero, not at arena garbage */
                memset(attr, 0, op->attr_size);
                ld_attrs_parse(L, op, tj_get(L->s, L->n, nd, "attrs"), attr, 1);
            }
        }
        k++;
    }
    return TSR_OK;
}

tsr_code ld_build(ld *L)
{
    tsr_code rc;
    if ((rc = build_tables(L)) != TSR_OK || (rc = build_names(L)) != TSR_OK ||
        (rc = build_inputs(L)) != TSR_OK || (rc = build_inits(L)) != TSR_OK)
        return rc;
    return build_nodes(L);
}

/* ---- step 8: graph (load only) ---- */
tsr_code ld_graph(ld *L)
{
    tsr_model *m = L->m;
    size_t it, nd, v, k = 0;
    int32_t i, j;
    for (i = 0; i < (int32_t)(L->n_in + L->n_init); i++)
        if (!insert_name(L, i))
            return tsr_fail(L->err, TSR_E_GRAPH, "duplicate name '%s'", m->values[i].name);
    it = L->g_nodes;
    while (tj_next(L->s, L->n, &it, 0, NULL, &nd)) {
        tsr_node *N = &m->nodes[k];
        size_t in = tj_get(L->s, L->n, nd, "inputs");
        char who[200], nb[280];
        ld_node_label(L, nd, k, who, sizeof who);
        while (tj_next(L->s, L->n, &in, 0, NULL, &v)) {
            int32_t id;
            ld_show(L, v, nb, sizeof nb);
            id = find_name(L, nb);
            if (id < 0)
                return tsr_fail(L->err, TSR_E_GRAPH, "%s: input '%s' is not defined before use", who, nb);
            N->in[N->nin++] = id;
        }
        if (!insert_name(L, N->out))
            return tsr_fail(L->err, TSR_E_GRAPH, "%s: duplicate name '%s'", who, m->values[N->out].name);
        k++;
    }
    it = L->g_out;
    k = 0;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        char nb[280];
        int32_t id;
        ld_show(L, tj_get(L->s, L->n, v, "name"), nb, sizeof nb);
        id = find_name(L, nb);
        if (id < 0)
            return tsr_fail(L->err, TSR_E_GRAPH, "output '%s' is not defined", nb);
        for (j = 0; j < (int32_t)k; j++)
            if (m->outputs[j] == id)
                return tsr_fail(L->err, TSR_E_GRAPH, "output '%s' listed twice", nb);
        m->outputs[k++] = id;
    }
    return TSR_OK;
}

/* ---- step 9: shapes (load only) ---- */
static int shape_eq(const tsr_shape *a, const tsr_shape *b)
{
    int32_t d;
    if (a->rank != b->rank)
        return 0;
    for (d = 0; d < a->rank; d++)
        if (a->dim[d] != b->dim[d])
            return 0;
    return 1;
}

static const char *dt_name(int32_t dt)
{
    return dt == TSR_INT32 ? "int32" : "float32";
}

/* The operand dtypes the op's row allows (E_SHAPE, naming the operand), and
 * the output dtype they give; TSR_DT_CUSTOM rows do both in their shape
 * function. */
static tsr_code check_dtypes(tsr_model *m, const tsr_node *N, const char *who, tsr_error *err)
{
    int32_t k, want = TSR_FLOAT32, dt0 = m->values[N->in[0]].dtype, out;
    switch (N->op->dt) {
    case TSR_DT_F32: want = TSR_FLOAT32, out = TSR_FLOAT32; break;
    case TSR_DT_I32: want = TSR_INT32, out = TSR_INT32; break;
    case TSR_DT_SAME: want = dt0, out = dt0; break;
    case TSR_DT_CMP: want = dt0, out = TSR_INT32; break;
    default: return TSR_OK;
    }
    for (k = 0; k < N->nin; k++) {
        int32_t dt = m->values[N->in[k]].dtype;
        if (dt != want)
            return tsr_fail(err, TSR_E_SHAPE, "%s: operand %ld is %s, expected %s%s", who, (long)k, dt_name(dt),
                            dt_name(want), N->op->dt == TSR_DT_SAME || N->op->dt == TSR_DT_CMP
                            ? " (the dtype of operand 0)" : "");
    }
    m->values[N->out].dtype = out;
    return TSR_OK;
}

/* Readers of value v: node operands plus graph outputs. */
static int32_t readers(const tsr_model *m, int32_t v)
{
    int32_t i, k, n = 0;
    for (i = 0; i < m->n_nodes; i++)
        for (k = 0; k < m->nodes[i].nin; k++)
            n += m->nodes[i].in[k] == v;
    for (i = 0; i < m->n_outputs; i++)
        n += m->outputs[i] == v;
    return n;
}

/* Run plan: a Relu whose operand is a node output read by nothing else
 * writes over that operand's buffer, right after the producer wrote it
 * (still in cache), instead of streaming into a buffer of its own. The same
 * bits: the kernel is elementwise and reads each x[i] before writing y[i]. */
static void ld_in_place(tsr_model *m)
{
    int32_t i;
    for (i = 0; i < m->n_nodes; i++) {
        const tsr_node *N = &m->nodes[i];
        const tsr_value *x = &m->values[N->in[0]];
        if (N->op->kernel == tsr_k_relu && x->kind == V_NODE && readers(m, N->in[0]) == 1)
            m->values[N->out].reuses = x->reuses ? x->reuses : N->in[0] + 1;
    }
}

tsr_code ld_shapes(ld *L)
{
    tsr_model *m = L->m;
    int32_t i, d;
    size_t it, v, k = 0;
    for (i = 0; i < m->n_nodes; i++) {
        tsr_node *N = &m->nodes[i];
        tsr_shape o;
        tsr_infer c;
        int64_t n = 1;
        char who[200];
        tsr_code rc;
        if (N->label)
            snprintf(who, sizeof who, "node '%s' (%s)", N->label, N->op->name);
        else
            snprintf(who, sizeof who, "node #%ld (%s)", (long)N->index, N->op->name);
        c.m = m;
        c.err = L->err;
        c.who = who;
        if ((rc = check_dtypes(m, N, who, L->err)) != TSR_OK || (rc = N->op->shape(&c, N, &o)) != TSR_OK)
            return rc;
        for (d = 0; d < o.rank; d++)
            if (o.dim[d] > 0)
                n *= o.dim[d];
        if (n > TSR_MAX_ELEMENTS) /* every binding would exceed the limit */
            return tsr_fail(L->err, TSR_E_LIMIT, "%s: result has more than 2^26 elements", who);
        m->values[N->out].shape = o;
    }
    it = L->g_out;
    while (tj_next(L->s, L->n, &it, 0, NULL, &v)) {
        tsr_shape decl;
        if (!read_shape(L, tj_get(L->s, L->n, v, "shape"), &decl))
            return tsr_fail(L->err, TSR_E_ARENA, "arena too small");
        if (!shape_eq(&decl, &m->values[m->outputs[k]].shape))
            return tsr_fail(L->err, TSR_E_SHAPE, "output '%s': declared shape differs from the inferred one",
                            m->values[m->outputs[k]].name);
        if (ld_dtype(L, tj_get(L->s, L->n, v, "dtype")) != m->values[m->outputs[k]].dtype)
            return tsr_fail(L->err, TSR_E_SHAPE, "output '%s': declared dtype %s, the inferred one is %s",
                            m->values[m->outputs[k]].name, dt_name(ld_dtype(L, tj_get(L->s, L->n, v, "dtype"))),
                            dt_name(m->values[m->outputs[k]].dtype));
        k++;
    }
    ld_in_place(m);
    return TSR_OK;
}
