/* tessera.trainer._sampled: the Python binding of sampled_kernels.c.
 *
 * Operands are numpy arrays of the exact dtypes the caller (trainer/reconstruction_sampling.py)
 * builds: float32 matrices and vectors, int64 indices, all C-contiguous. Anything else, a size
 * that does not match, or an index pattern that would read or write outside an array raises
 * ValueError (checked here in O(pairs), before any kernel runs): never a write out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "sampled_kernels.h"

#define MAX_BUFS 16

typedef struct {
    Py_buffer b[MAX_BUFS];
    int n;
} Bufs;

static void release(Bufs *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* The C-contiguous buffer of o with items of kind 'f' (float32), 'q' (int64) or 'i' (int32), or
 * NULL with ValueError set. */
static Py_buffer *get(Bufs *bs, PyObject *o, char kind, int writable, const char *what) {
    Py_buffer *b = &bs->b[bs->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, b, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: not a C-contiguous%s array", what, writable ? " writable" : "");
        return NULL;
    }
    bs->n++;
    const char *f = b->format ? b->format : "B";
    if (f[0] == '=' || f[0] == '<' || f[0] == '@') f++;
    int ok = kind == 'f'   ? b->itemsize == 4 && strcmp(f, "f") == 0
             : kind == 'i' ? b->itemsize == 4 && (strcmp(f, "i") == 0 || strcmp(f, "l") == 0)
                           : b->itemsize == 8 && (strcmp(f, "q") == 0 || strcmp(f, "l") == 0);
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s: expected %s items", what,
                     kind == 'f' ? "float32" : kind == 'i' ? "int32" : "int64");
        return NULL;
    }
    return b;
}

static Py_ssize_t items(const Py_buffer *b) { return b->len / b->itemsize; }

static PyObject *fail(Bufs *bs, const char *what, const char *why) {
    release(bs);
    if (what) PyErr_Format(PyExc_ValueError, "%s: %s", what, why);
    return NULL;
}

/* indptr (n + 1, nondecreasing from 0 to len(cols)) and cols (each in [0, width)): 1, else 0 */
static int valid_pattern(const int64_t *indptr, Py_ssize_t n, const int64_t *cols, Py_ssize_t ncols, int64_t width) {
    if (indptr[0] != 0 || indptr[n] != ncols) return 0;
    for (Py_ssize_t r = 0; r < n; r++)
        if (indptr[r + 1] < indptr[r]) return 0;
    for (Py_ssize_t p = 0; p < ncols; p++)
        if (cols[p] < 0 || cols[p] >= width) return 0;
    return 1;
}

/* the shifts: distinct, each in [1, n); 1 if so, else 0 */
static int valid_shifts(const int64_t *shifts, Py_ssize_t m, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < m; i++) {
        if (shifts[i] < 1 || shifts[i] >= n) return 0;
        for (Py_ssize_t j = 0; j < i; j++)
            if (shifts[j] == shifts[i]) return 0;
    }
    return 1;
}

/* draw_bound(indptr, d, k, shifts) -> int */
static PyObject *py_draw_bound(PyObject *self, PyObject *args) {
    PyObject *ip, *sh;
    long long d, k;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OLLO", &ip, &d, &k, &sh)) return NULL;
    Py_buffer *b = get(&bs, ip, 'q', 0, "draw_bound indptr"), *bsh = b ? get(&bs, sh, 'q', 0, "draw_bound shifts") : NULL;
    if (!bsh) return fail(&bs, NULL, NULL);
    Py_ssize_t n = items(b) - 1;
    if (n < 0 || k < 1 || !valid_shifts(bsh->buf, items(bsh), n)) return fail(&bs, "draw_bound", "bad sizes or shifts");
    size_t bound = sk_draw_bound((size_t)n, d, b->buf, k, bsh->buf, (size_t)items(bsh));
    release(&bs);
    return PyLong_FromSize_t(bound);
}

/* draw(indptr, cols, d, k, shifts, ranks, count, out_indptr, out_cols, target, weight) -> pairs */
static PyObject *py_draw(PyObject *self, PyObject *args) {
    PyObject *o[9];
    long long d, k;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOLLOOOOOOO", &o[0], &o[1], &d, &k, &o[8], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7]))
        return NULL;
    static const char kinds[] = "qqqiqqffq";
    static const int writable[] = {0, 0, 0, 1, 1, 1, 1, 1, 0};
    Py_buffer *b[9];
    for (int i = 0; i < 9; i++)
        if (!(b[i] = get(&bs, o[i], kinds[i], writable[i], "draw"))) return fail(&bs, NULL, NULL);
    Py_ssize_t n = items(b[0]) - 1, m = items(b[8]);
    const int64_t *shifts = b[8]->buf;
    if (n < 0 || d < 1 || k < 1 || items(b[2]) != n * k || items(b[3]) != d || items(b[4]) != n + 1)
        return fail(&bs, "draw", "operands of inconsistent sizes");
    if (!valid_shifts(shifts, m, n)) return fail(&bs, "draw", "shifts must be distinct, each in [1, rows)");
    const int64_t *indptr = b[0]->buf, *cols = b[1]->buf, *ranks = b[2]->buf;
    if (!valid_pattern(indptr, n, cols, items(b[1]), d)) return fail(&bs, "draw", "the batch's pattern is invalid");
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t n0 = d - (indptr[r + 1] - indptr[r]);
        for (Py_ssize_t j = 0; n0 > k && j < k; j++)
            if (ranks[r * k + j] < 0 || ranks[r * k + j] >= n0) return fail(&bs, "draw", "a rank outside the row's zeros");
        for (int64_t p = indptr[r] + 1; p < indptr[r + 1]; p++)
            if (cols[p] <= cols[p - 1]) return fail(&bs, "draw", "the batch's columns are not sorted within rows");
    }
    size_t bound = sk_draw_bound((size_t)n, d, indptr, k, shifts, (size_t)m);
    if ((size_t)items(b[5]) < bound || (size_t)items(b[6]) < bound || (size_t)items(b[7]) < bound)
        return fail(&bs, "draw", "output arrays shorter than draw_bound");
    size_t pairs = sk_draw((size_t)n, d, indptr, cols, k, shifts, (size_t)m, ranks, b[3]->buf, b[4]->buf, b[5]->buf,
                           b[6]->buf, b[7]->buf);
    release(&bs);
    return PyLong_FromSize_t(pairs);
}

/* the (n, nh) shape of a matrix buffer whose rows have nh values */
static int rows_of(const Py_buffer *b, Py_ssize_t nh, Py_ssize_t *rows) {
    if (nh < 1 || items(b) % nh != 0) return 0;
    *rows = items(b) / nh;
    return 1;
}

/* gather_sum(W, indptr, cols, out, nh) */
static PyObject *py_gather_sum(PyObject *self, PyObject *args) {
    PyObject *W, *ip, *c, *out;
    Py_ssize_t nh, wrows, n;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOn", &W, &ip, &c, &out, &nh)) return NULL;
    Py_buffer *bw = get(&bs, W, 'f', 0, "gather_sum W"), *bi = bw ? get(&bs, ip, 'q', 0, "gather_sum indptr") : NULL;
    Py_buffer *bc = bi ? get(&bs, c, 'q', 0, "gather_sum cols") : NULL;
    Py_buffer *bo = bc ? get(&bs, out, 'f', 1, "gather_sum out") : NULL;
    if (!bo) return fail(&bs, NULL, NULL);
    n = items(bi) - 1;
    if (n < 0 || !rows_of(bw, nh, &wrows) || items(bo) != n * nh
        || !valid_pattern(bi->buf, n, bc->buf, items(bc), wrows))
        return fail(&bs, "gather_sum", "operands of inconsistent sizes or an index out of range");
    sk_gather_sum((size_t)n, (size_t)nh, bw->buf, bi->buf, bc->buf, bo->buf);
    release(&bs);
    Py_RETURN_NONE;
}

/* decode_update(W, bv, base or None, u or None, h, indptr, cols, target, weight, inv, neg, dh, scratch,
 *               colptr, ent) -> weighted sum of the loss terms */
static PyObject *py_decode_update(PyObject *self, PyObject *args) {
    PyObject *o[11], *base, *u;
    float inv, neg;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOffOOOO", &o[0], &o[1], &base, &u, &o[2], &o[3], &o[4], &o[5], &o[6], &inv,
                          &neg, &o[7], &o[8], &o[9], &o[10]))
        return NULL;
    static const char kinds[] = "fffqqffffqi";
    static const int writable[] = {1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    Py_buffer *b[11], *bb = NULL, *bu = NULL;
    for (int i = 0; i < 11; i++)
        if (!(b[i] = get(&bs, o[i], kinds[i], writable[i], "decode_update"))) return fail(&bs, NULL, NULL);
    if (base != Py_None && !(bb = get(&bs, base, 'f', 0, "decode_update base"))) return fail(&bs, NULL, NULL);
    if (u != Py_None && !(bu = get(&bs, u, 'f', 0, "decode_update u"))) return fail(&bs, NULL, NULL);
    if (bu && !bb) return fail(&bs, "decode_update", "u needs base");
    Py_ssize_t n = items(b[3]) - 1, pairs = items(b[4]), d = items(b[1]), nh = n > 0 ? items(b[2]) / n : 0;
    if (n < 1 || nh < 1 || d < 1 || items(b[2]) != n * nh || items(b[0]) != d * nh || items(b[5]) != pairs
        || items(b[6]) != pairs || items(b[7]) != n * nh || items(b[8]) < 2 * n || items(b[9]) < d + 1
        || n > INT32_MAX || d > INT32_MAX || pairs > INT32_MAX / 3 || items(b[10]) < 3 * pairs + d
        || (bb && items(bb) != d) || (bu && items(bu) != nh) || !valid_pattern(b[3]->buf, n, b[4]->buf, pairs, d))
        return fail(&bs, "decode_update", "operands of inconsistent sizes or an index out of range");
    double loss = sk_decode_update((size_t)n, (size_t)d, (size_t)nh, b[0]->buf, b[1]->buf, bb ? bb->buf : NULL,
                                   bu ? bu->buf : NULL, b[2]->buf, b[3]->buf, b[4]->buf, b[5]->buf, b[6]->buf, inv,
                                   neg, b[7]->buf, b[8]->buf, b[9]->buf, b[10]->buf);
    release(&bs);
    return PyFloat_FromDouble(loss);
}

/* mean_field(W, bv, hbar, base, v, u or None): with u, W += base u too (W writable) */
static PyObject *py_mean_field(PyObject *self, PyObject *args) {
    PyObject *o[5], *u;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &u)) return NULL;
    const int writable[] = {u != Py_None, 0, 0, 1, 1};
    Py_buffer *b[5], *bu = NULL;
    for (int i = 0; i < 5; i++)
        if (!(b[i] = get(&bs, o[i], 'f', writable[i], "mean_field"))) return fail(&bs, NULL, NULL);
    if (u != Py_None && !(bu = get(&bs, u, 'f', 0, "mean_field u"))) return fail(&bs, NULL, NULL);
    Py_ssize_t d = items(b[1]), nh = items(b[2]);
    if (nh < 1 || items(b[0]) != d * nh || items(b[3]) != d || items(b[4]) != nh || (bu && items(bu) != nh))
        return fail(&bs, "mean_field", "operands of inconsistent sizes");
    sk_mean_field((size_t)d, (size_t)nh, b[0]->buf, b[1]->buf, b[2]->buf, bu ? bu->buf : NULL, b[3]->buf, b[4]->buf);
    release(&bs);
    Py_RETURN_NONE;
}

/* scatter_rows(Y, indptr, cols, coef, H) */
static PyObject *py_scatter_rows(PyObject *self, PyObject *args) {
    PyObject *o[5];
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO", &o[0], &o[1], &o[2], &o[3], &o[4])) return NULL;
    static const char kinds[] = "fqqff";
    static const int writable[] = {1, 0, 0, 0, 0};
    Py_buffer *b[5];
    for (int i = 0; i < 5; i++)
        if (!(b[i] = get(&bs, o[i], kinds[i], writable[i], "scatter_rows"))) return fail(&bs, NULL, NULL);
    Py_ssize_t n = items(b[1]) - 1, pairs = items(b[2]), nh = n > 0 ? items(b[4]) / n : 0, yrows;
    if (n < 0 || (n > 0 && (nh < 1 || items(b[4]) != n * nh)) || items(b[3]) != pairs
        || (n > 0 && !rows_of(b[0], nh, &yrows)) || (n > 0 && !valid_pattern(b[1]->buf, n, b[2]->buf, pairs, yrows))
        || (n == 0 && pairs != 0))
        return fail(&bs, "scatter_rows", "operands of inconsistent sizes or an index out of range");
    sk_scatter_rows((size_t)n, (size_t)nh, b[0]->buf, b[1]->buf, b[2]->buf, b[3]->buf, b[4]->buf);
    release(&bs);
    Py_RETURN_NONE;
}

/* scatter_values(y, cols, v) */
static PyObject *py_scatter_values(PyObject *self, PyObject *args) {
    PyObject *o[3];
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) return NULL;
    static const char kinds[] = "fqf";
    static const int writable[] = {1, 0, 0};
    Py_buffer *b[3];
    for (int i = 0; i < 3; i++)
        if (!(b[i] = get(&bs, o[i], kinds[i], writable[i], "scatter_values"))) return fail(&bs, NULL, NULL);
    Py_ssize_t pairs = items(b[1]);
    int64_t zero = 0;
    if (items(b[2]) != pairs) return fail(&bs, "scatter_values", "operands of inconsistent sizes");
    const int64_t *c = b[1]->buf;
    for (Py_ssize_t p = 0; p < pairs; p++)
        if (c[p] < zero || c[p] >= items(b[0])) return fail(&bs, "scatter_values", "an index out of range");
    sk_scatter_values((size_t)pairs, b[0]->buf, b[1]->buf, b[2]->buf);
    release(&bs);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"draw_bound", py_draw_bound, METH_VARARGS, "draw_bound(indptr, d, k, shifts) -> the most pairs draw writes"},
    {"draw", py_draw, METH_VARARGS,
     "draw(indptr, cols, d, k, shifts, ranks, count, out_indptr, out_cols, target, weight) -> pairs"},
    {"gather_sum", py_gather_sum, METH_VARARGS, "gather_sum(W, indptr, cols, out, nh): out[r] = sum W[cols of r]"},
    {"decode_update", py_decode_update, METH_VARARGS,
     "decode_update(W, bv, base, u, h, indptr, cols, target, weight, inv, neg, dh, scratch, colptr, ent) -> "
     "weighted sum of the BCE terms; the decoder's SGD writes done"},
    {"mean_field", py_mean_field, METH_VARARGS,
     "mean_field(W, bv, hbar, base, v, u): the control variate's pass (with u: and W += base u)"},
    {"scatter_rows", py_scatter_rows, METH_VARARGS, "scatter_rows(Y, indptr, cols, coef, H): Y[c] += coef H[r]"},
    {"scatter_values", py_scatter_values, METH_VARARGS, "scatter_values(y, cols, v): y[c] += v"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tessera.trainer._sampled",
                                    "Reconstruction sampling's step kernels (float32).", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sampled(void) { return PyModule_Create(&module); }
