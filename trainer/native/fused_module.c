/* tessera.trainer._fused: the Python binding of fused_kernels.c, binary_kernels.c and pool_kernels.c.
 *
 * Each kernel takes numpy arrays and returns True when it ran, False when an operand is not
 * C-contiguous float32 (or the output not writable), or a pooling window is wider than it takes:
 * the caller then runs its numpy code.
 * Operands of different sizes are a planning bug and raise ValueError. A `bias` (optional) holds
 * one row: the operands are rows of its length, each with the bias added first. The 0/1 products
 * check their pattern (row starts, columns in range) and raise ValueError on a bad one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "binary_kernels.h"
#include "fused_kernels.h"
#include "pool_kernels.h"

typedef struct {
    Py_buffer b[5];
    int n;
} Bufs;

static void release(Bufs *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* 1: got a C-contiguous buffer of items of format fmt or alt (e.g. "l" and "q" for int64); 0: not
 * applicable (error cleared) */
static int get(Bufs *bs, PyObject *o, int writable, const char *fmt, const char *alt, Py_ssize_t itemsize) {
    Py_buffer *b = &bs->b[bs->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, b, flags) < 0) {
        PyErr_Clear();
        return 0;
    }
    bs->n++;
    const char *f = b->format ? b->format : "B";
    if (f[0] == '=' || f[0] == '<' || f[0] == '@') f++;
    return b->itemsize == itemsize && (strcmp(f, fmt) == 0 || strcmp(f, alt) == 0);
}

static int getf(Bufs *bs, PyObject *o, int writable) { return get(bs, o, writable, "f", "f", 4); }

static Py_ssize_t count(Bufs *bs, int i) { return bs->b[i].len / 4; }

static PyObject *not_applicable(Bufs *bs) {
    release(bs);
    Py_RETURN_FALSE;
}

static PyObject *size_mismatch(Bufs *bs, const char *what) {
    release(bs);
    PyErr_Format(PyExc_ValueError, "%s: operands of different sizes", what);
    return NULL;
}

/* The (rows, cols) of n elements with an optional bias (buffer `bi`, or -1): cols = its length,
 * which must divide n; without one, (1, n). 0 on a size mismatch. */
static int row_shape(Bufs *bs, int bi, size_t n, size_t *rows, size_t *cols) {
    if (bi < 0) {
        *rows = 1;
        *cols = n;
        return 1;
    }
    size_t c = (size_t)count(bs, bi);
    if (c == 0 ? n != 0 : n % c != 0) return 0;
    *cols = c;
    *rows = c ? n / c : 0;
    return 1;
}

static int is_none(PyObject *o) { return o == NULL || o == Py_None; }

static PyObject *py_sigmoid(PyObject *self, PyObject *args) {
    PyObject *a, *out, *bias = NULL;
    Bufs bs = {.n = 0};
    size_t rows, cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O", &a, &out, &bias)) return NULL;
    if (!getf(&bs, a, 0) || !getf(&bs, out, 1) || (!is_none(bias) && !getf(&bs, bias, 0))) return not_applicable(&bs);
    size_t n = (size_t)count(&bs, 0);
    if ((size_t)count(&bs, 1) != n || !row_shape(&bs, is_none(bias) ? -1 : 2, n, &rows, &cols))
        return size_mismatch(&bs, "sigmoid");
    fk_sigmoid(bs.b[0].buf, is_none(bias) ? NULL : bs.b[2].buf, bs.b[1].buf, rows, cols);
    release(&bs);
    Py_RETURN_TRUE;
}

/* kernels of two arrays and up to two float scalars into out */
typedef enum { K_SIGMOID_GRAD, K_BCE_GRAD, K_LINCOMB, K_LINCOMB_SQ } Kind2;

static PyObject *binary(PyObject *args, Kind2 kind, const char *name) {
    PyObject *x, *y, *out, *bias = NULL;
    float a = 0.0f, b = 0.0f;
    Bufs bs = {.n = 0};
    size_t rows, cols;
    int ok = kind == K_SIGMOID_GRAD ? PyArg_ParseTuple(args, "OOO", &x, &y, &out)
             : kind == K_BCE_GRAD   ? PyArg_ParseTuple(args, "OOfO|O", &x, &y, &a, &out, &bias)
                                    : PyArg_ParseTuple(args, "OOffO", &x, &y, &a, &b, &out);
    if (!ok) return NULL;
    if (!getf(&bs, x, 0) || !getf(&bs, y, 0) || !getf(&bs, out, 1) || (!is_none(bias) && !getf(&bs, bias, 0)))
        return not_applicable(&bs);
    size_t n = (size_t)count(&bs, 2);
    if ((size_t)count(&bs, 0) != n || (size_t)count(&bs, 1) != n
        || !row_shape(&bs, is_none(bias) ? -1 : 3, n, &rows, &cols))
        return size_mismatch(&bs, name);
    const float *xp = bs.b[0].buf, *yp = bs.b[1].buf;
    float *o = bs.b[2].buf;
    switch (kind) {
    case K_SIGMOID_GRAD: fk_sigmoid_grad(xp, yp, o, n); break;
    case K_BCE_GRAD: fk_bce_grad(xp, is_none(bias) ? NULL : bs.b[3].buf, yp, a, o, rows, cols); break;
    case K_LINCOMB: fk_lincomb(xp, yp, a, b, o, n); break;
    case K_LINCOMB_SQ: fk_lincomb_sq(xp, yp, a, b, o, n); break;
    }
    release(&bs);
    Py_RETURN_TRUE;
}

static PyObject *py_sigmoid_grad(PyObject *s, PyObject *a) { (void)s; return binary(a, K_SIGMOID_GRAD, "sigmoid_grad"); }
static PyObject *py_bce_grad(PyObject *s, PyObject *a) { (void)s; return binary(a, K_BCE_GRAD, "bce_grad"); }
static PyObject *py_lincomb(PyObject *s, PyObject *a) { (void)s; return binary(a, K_LINCOMB, "lincomb"); }
static PyObject *py_lincomb_sq(PyObject *s, PyObject *a) { (void)s; return binary(a, K_LINCOMB_SQ, "lincomb_sq"); }

/* (z, t[, c, out, bias, t_copy]): out, bias and t_copy may be None */
static PyObject *py_bce_sum(PyObject *self, PyObject *args) {
    PyObject *z, *t, *out = NULL, *bias = NULL, *t_copy = NULL;
    float c = 0.0f;
    Bufs bs = {.n = 0};
    size_t rows, cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|fOOO", &z, &t, &c, &out, &bias, &t_copy)) return NULL;
    int has_out = !is_none(out), has_bias = !is_none(bias), has_copy = !is_none(t_copy);
    int bi = 2 + has_out, ci = bi + has_bias; /* buffer indices of the bias and the copy */
    if (!getf(&bs, z, 0) || !getf(&bs, t, 0) || (has_out && !getf(&bs, out, 1))
        || (has_bias && !getf(&bs, bias, 0)) || (has_copy && !getf(&bs, t_copy, 1))) {
        release(&bs);
        Py_RETURN_NONE;
    }
    size_t n = (size_t)count(&bs, 0);
    if ((size_t)count(&bs, 1) != n || (has_out && (size_t)count(&bs, 2) != n)
        || (has_copy && (size_t)count(&bs, ci) != n) || !row_shape(&bs, has_bias ? bi : -1, n, &rows, &cols))
        return size_mismatch(&bs, "bce_sum");
    double s = fk_bce_sum(bs.b[0].buf, has_bias ? bs.b[bi].buf : NULL, bs.b[1].buf, c, has_out ? bs.b[2].buf : NULL,
                          has_copy ? bs.b[ci].buf : NULL, rows, cols);
    release(&bs);
    return PyFloat_FromDouble(s);
}

/* (b, g, nc, out): out = b + nc * g summed over its rows; g holds a whole number of rows of len(b) */
static PyObject *py_colsum_update(PyObject *self, PyObject *args) {
    PyObject *b, *g, *out;
    float nc;
    Bufs bs = {.n = 0};
    size_t rows, cols;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOfO", &b, &g, &nc, &out)) return NULL;
    if (!getf(&bs, b, 0) || !getf(&bs, g, 0) || !getf(&bs, out, 1)) return not_applicable(&bs);
    if (count(&bs, 0) != count(&bs, 2) || !row_shape(&bs, 0, (size_t)count(&bs, 1), &rows, &cols))
        return size_mismatch(&bs, "colsum_update");
    fk_colsum_update(bs.b[0].buf, bs.b[1].buf, nc, bs.b[2].buf, rows, cols);
    release(&bs);
    Py_RETURN_TRUE;
}

/* (x) -> (finite, number of nonzeros), or None when x is not C-contiguous float32 */
static PyObject *py_scan(PyObject *self, PyObject *args) {
    PyObject *x;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "O", &x)) return NULL;
    if (!getf(&bs, x, 0)) {
        release(&bs);
        Py_RETURN_NONE;
    }
    int finite = 1;
    size_t nnz = fk_scan(bs.b[0].buf, (size_t)count(&bs, 0), &finite);
    release(&bs);
    return Py_BuildValue("(On)", finite ? Py_True : Py_False, (Py_ssize_t)nnz);
}

static PyObject *py_axpy_sum(PyObject *self, PyObject *args) {
    PyObject *x, *y, *z, *out;
    float a;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOfO", &x, &y, &z, &a, &out)) return NULL;
    if (!getf(&bs, x, 0) || !getf(&bs, y, 0) || !getf(&bs, z, 0) || !getf(&bs, out, 1)) return not_applicable(&bs);
    size_t n = (size_t)count(&bs, 3);
    for (int i = 0; i < 3; i++)
        if ((size_t)count(&bs, i) != n) return size_mismatch(&bs, "axpy_sum");
    fk_axpy_sum(bs.b[0].buf, bs.b[1].buf, bs.b[2].buf, a, bs.b[3].buf, n);
    release(&bs);
    Py_RETURN_TRUE;
}

static PyObject *py_adam_step(PyObject *self, PyObject *args) {
    PyObject *p, *m, *v, *out;
    float c, eps;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOffO", &p, &m, &v, &c, &eps, &out)) return NULL;
    if (!getf(&bs, p, 0) || !getf(&bs, m, 0) || !getf(&bs, v, 0) || !getf(&bs, out, 1)) return not_applicable(&bs);
    size_t n = (size_t)count(&bs, 3);
    for (int i = 0; i < 3; i++)
        if ((size_t)count(&bs, i) != n) return size_mismatch(&bs, "adam_step");
    fk_adam_step(bs.b[0].buf, bs.b[1].buf, bs.b[2].buf, c, eps, bs.b[3].buf, n);
    release(&bs);
    Py_RETURN_TRUE;
}

/* (ls, e, labels, out, cols): e holds one value (a scalar loss gradient) or one per row; labels
 * int64 in [-cols, cols) (numpy's indexing rule; others raise IndexError as numpy does) */
static PyObject *py_softmax_xent_grad(PyObject *self, PyObject *args) {
    PyObject *ls, *e, *labels, *out;
    Py_ssize_t cols;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOn", &ls, &e, &labels, &out, &cols)) return NULL;
    if (!getf(&bs, ls, 0) || !getf(&bs, e, 0) || !get(&bs, labels, 0, "l", "q", 8) || !getf(&bs, out, 1)
        || cols <= 0)
        return not_applicable(&bs);
    Py_buffer *b = bs.b;
    Py_ssize_t n = b[0].len / 4, ne = b[1].len / 4, rows = n / cols;
    if (n != b[3].len / 4 || n % cols || b[2].len / 8 != rows || (ne != 1 && ne != rows))
        return size_mismatch(&bs, "softmax_xent_grad");
    const int64_t *y = b[2].buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (y[r] < -cols || y[r] >= cols) {
            long long bad = (long long)y[r];
            release(&bs);
            PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis 1 with size %zd", bad, cols);
            return NULL;
        }
    }
    fk_softmax_xent_grad(b[0].buf, b[1].buf, ne == 1 ? 0 : 1, y, b[3].buf, (size_t)rows, (size_t)cols);
    release(&bs);
    Py_RETURN_TRUE;
}

static int geti64(Bufs *bs, PyObject *o, int writable) { return get(bs, o, writable, "l", "q", 8); }

/* The pattern's row starts and columns (n rows, d columns, nnz = indptr[n]): 0 with ValueError
 * unless indptr runs from 0 to at most len(cols) without decreasing and every column is in [0, d) */
static int valid_pattern(const int64_t *indptr, size_t n, const int64_t *cols, size_t ncols, size_t d) {
    int ok = indptr[0] == 0;
    for (size_t r = 0; r < n; r++) ok &= indptr[r + 1] >= indptr[r];
    ok = ok && (uint64_t)indptr[n] <= ncols;
    uint64_t top = 0;
    for (size_t p = 0; ok && p < (size_t)indptr[n]; p++) top |= (uint64_t)cols[p] >= d; /* negatives wrap high */
    if (ok && !top) return 1;
    PyErr_SetString(PyExc_ValueError, "binary pattern: row starts or columns out of range");
    return 0;
}

static PyObject *py_binary_pattern(PyObject *self, PyObject *args) {
    PyObject *x, *indptr, *cols;
    Py_ssize_t d;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOO", &x, &d, &indptr, &cols)) return NULL;
    if (!getf(&bs, x, 0) || !geti64(&bs, indptr, 1) || !geti64(&bs, cols, 1)) {
        release(&bs);
        Py_RETURN_NONE;
    }
    size_t total = (size_t)count(&bs, 0);
    if (d <= 0 || total % (size_t)d != 0 || (size_t)(bs.b[1].len / 8) != total / (size_t)d + 1)
        return size_mismatch(&bs, "binary_pattern");
    int64_t nnz;
    Py_BEGIN_ALLOW_THREADS
    nnz = bk_pattern(bs.b[0].buf, total / (size_t)d, (size_t)d, bs.b[1].buf, bs.b[2].buf, (size_t)(bs.b[2].len / 8));
    Py_END_ALLOW_THREADS
    release(&bs);
    return PyLong_FromLongLong(nnz);
}

static PyObject *py_binary_transpose(PyObject *self, PyObject *args) {
    PyObject *indptr, *cols, *colptr, *rows;
    Py_ssize_t d;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnOO", &indptr, &cols, &d, &colptr, &rows)) return NULL;
    if (!geti64(&bs, indptr, 0) || !geti64(&bs, cols, 0) || !geti64(&bs, colptr, 1) || !geti64(&bs, rows, 1))
        return not_applicable(&bs);
    Py_ssize_t n = bs.b[0].len / 8 - 1;
    if (n < 0 || d < 0 || bs.b[2].len / 8 != d + 1) return size_mismatch(&bs, "binary_transpose");
    const int64_t *ip = bs.b[0].buf;
    if (!valid_pattern(ip, (size_t)n, bs.b[1].buf, (size_t)(bs.b[1].len / 8), (size_t)d)) {
        release(&bs);
        return NULL;
    }
    if (bs.b[3].len / 8 < ip[n]) return size_mismatch(&bs, "binary_transpose");
    bk_transpose((size_t)n, (size_t)d, ip, bs.b[1].buf, bs.b[2].buf, bs.b[3].buf);
    release(&bs);
    Py_RETURN_TRUE;
}

static PyObject *py_binary_matmul(PyObject *self, PyObject *args) {
    PyObject *W, *indptr, *cols, *out;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO", &W, &indptr, &cols, &out)) return NULL;
    if (!getf(&bs, W, 0) || !geti64(&bs, indptr, 0) || !geti64(&bs, cols, 0) || !getf(&bs, out, 1))
        return not_applicable(&bs);
    /* W (d, m) and out (n, m), n from indptr */
    Py_buffer *wb = &bs.b[0], *ob = &bs.b[3];
    Py_ssize_t n = bs.b[1].len / 8 - 1;
    if (wb->ndim != 2 || ob->ndim != 2 || ob->shape[0] != n || ob->shape[1] != wb->shape[1] || n < 0)
        return size_mismatch(&bs, "binary_matmul");
    size_t m = (size_t)wb->shape[1], d = (size_t)wb->shape[0];
    const int64_t *ip = bs.b[1].buf;
    if (!valid_pattern(ip, (size_t)n, bs.b[2].buf, (size_t)(bs.b[2].len / 8), d)) {
        release(&bs);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = bk_matmul((size_t)n, d, m, bs.b[0].buf, ip, bs.b[2].buf, bs.b[3].buf);
    Py_END_ALLOW_THREADS
    release(&bs);
    if (rc != 0) return PyErr_NoMemory();
    Py_RETURN_TRUE;
}

static PyObject *py_path(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyUnicode_FromString(fk_path_name(fk_path));
}

static PyObject *py_paths(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    PyObject *t = PyList_New(0);
    for (int p = 0; t && p < FK_NPATHS; p++) {
        if (!fk_path_supported(p)) continue;
        PyObject *s = PyUnicode_FromString(fk_path_name(p));
        if (!s || PyList_Append(t, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(t);
            return NULL;
        }
        Py_DECREF(s);
    }
    return t;
}

/* Max pooling over windows side by side: x (r, kh, wo, kw), the pooled array (r, wo). 1 when x
 * has r kh wo kw elements, buffers 1 .. npooled those of the pooled array and any after them as
 * many as x. */
static int pool_sizes(Bufs *bs, int npooled, Py_ssize_t r, Py_ssize_t kh, Py_ssize_t wo, Py_ssize_t kw) {
    if (r < 0 || kh < 1 || wo < 0 || kw < 1 || count(bs, 0) != r * kh * wo * kw) return 0;
    for (int i = 1; i < bs->n; i++)
        if (count(bs, i) != (i <= npooled ? r * wo : count(bs, 0))) return 0;
    return 1;
}

static PyObject *py_pool_max(PyObject *self, PyObject *args) {
    PyObject *x, *out;
    Py_ssize_t r, kh, wo, kw;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnnnn", &x, &out, &r, &kh, &wo, &kw)) return NULL;
    if (!getf(&bs, x, 0) || !getf(&bs, out, 1) || kw > PK_BLOCK) return not_applicable(&bs);
    if (!pool_sizes(&bs, 1, r, kh, wo, kw)) return size_mismatch(&bs, "pool_max");
    Py_BEGIN_ALLOW_THREADS
    pk_max_tiled(bs.b[0].buf, bs.b[1].buf, (size_t)r, (size_t)kh, (size_t)wo, (size_t)kw);
    Py_END_ALLOW_THREADS
    release(&bs);
    Py_RETURN_TRUE;
}

static PyObject *py_pool_max_grad(PyObject *self, PyObject *args) {
    PyObject *x, *pooled, *g, *out;
    Py_ssize_t r, kh, wo, kw;
    Bufs bs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnnnn", &x, &pooled, &g, &out, &r, &kh, &wo, &kw)) return NULL;
    if (!getf(&bs, x, 0) || !getf(&bs, pooled, 0) || !getf(&bs, g, 0) || !getf(&bs, out, 1) || kw > PK_BLOCK)
        return not_applicable(&bs);
    if (!pool_sizes(&bs, 2, r, kh, wo, kw)) return size_mismatch(&bs, "pool_max_grad");
    Py_BEGIN_ALLOW_THREADS
    pk_max_grad_tiled(bs.b[0].buf, bs.b[1].buf, bs.b[2].buf, bs.b[3].buf, (size_t)r, (size_t)kh, (size_t)wo,
                      (size_t)kw);
    Py_END_ALLOW_THREADS
    release(&bs);
    Py_RETURN_TRUE;
}

static PyObject *py_set_path(PyObject *self, PyObject *args) {
    const char *name;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int p = 0; p < FK_NPATHS; p++) {
        if (strcmp(name, fk_path_name(p)) != 0) continue;
        if (!fk_path_supported(p)) {
            PyErr_Format(PyExc_RuntimeError, "this CPU cannot run the %s path", name);
            return NULL;
        }
        fk_path = p;
        Py_RETURN_NONE;
    }
    PyErr_Format(PyExc_ValueError, "unknown path %s (baseline, avx2, avx512)", name);
    return NULL;
}

static PyMethodDef methods[] = {
    {"sigmoid", py_sigmoid, METH_VARARGS, "sigmoid(a, out[, bias]) -> bool: 1 / (1 + exp(-(a + bias)))"},
    {"sigmoid_grad", py_sigmoid_grad, METH_VARARGS, "sigmoid_grad(s, g, out) -> bool: ((1 - s) s) g"},
    {"bce_grad", py_bce_grad, METH_VARARGS, "bce_grad(z, t, c, out[, bias]) -> bool: (sigmoid(z + bias) - t) c"},
    {"bce_sum", py_bce_sum, METH_VARARGS,
     "bce_sum(z, t[, c, out, bias, t_copy]) -> float or None: sum of softplus(z + bias) - t (z + bias); with out, "
     "also bce_grad's out; with t_copy, also a copy of t"},
    {"colsum_update", py_colsum_update, METH_VARARGS, "colsum_update(b, g, nc, out) -> bool: b + nc g.sum(0)"},
    {"scan", py_scan, METH_VARARGS, "scan(x) -> (all finite, number of nonzeros) or None"},
    {"axpy_sum", py_axpy_sum, METH_VARARGS, "axpy_sum(x, y, z, a, out) -> bool: x + a (y + z)"},
    {"softmax_xent_grad", py_softmax_xent_grad, METH_VARARGS,
     "softmax_xent_grad(ls, e, labels, out, cols) -> bool: exp(ls) (-e), plus e at the labels"},
    {"lincomb", py_lincomb, METH_VARARGS, "lincomb(x, y, a, b, out) -> bool: a x + b y"},
    {"lincomb_sq", py_lincomb_sq, METH_VARARGS, "lincomb_sq(x, y, a, b, out) -> bool: a x + b (y y)"},
    {"adam_step", py_adam_step, METH_VARARGS, "adam_step(p, m, v, c, eps, out) -> bool: p - c m / (sqrt(v) + eps)"},
    {"binary_pattern", py_binary_pattern, METH_VARARGS,
     "binary_pattern(x, d, indptr, cols) -> the number of ones, -1 (not 0/1, or cols too short) or None"},
    {"binary_transpose", py_binary_transpose, METH_VARARGS,
     "binary_transpose(indptr, cols, d, colptr, rows) -> bool: the pattern of x.T"},
    {"binary_matmul", py_binary_matmul, METH_VARARGS, "binary_matmul(W, indptr, cols, out) -> bool: x @ W, x 0/1"},
    {"pool_max", py_pool_max, METH_VARARGS,
     "pool_max(x, out, r, kh, wo, kw) -> bool: each window's SPEC Maximum, x (r, kh, wo, kw), out (r, wo)"},
    {"pool_max_grad", py_pool_max_grad, METH_VARARGS,
     "pool_max_grad(x, pooled, g, out, r, kh, wo, kw) -> bool: g where x equals its window's maximum, else g * 0; "
     "x and out (r, kh, wo, kw), pooled and g (r, wo)"},
    {"path", py_path, METH_NOARGS, "the dispatched path: 'avx512', 'avx2' or 'baseline'"},
    {"paths", py_paths, METH_NOARGS, "the paths this CPU can run"},
    {"set_path", py_set_path, METH_VARARGS, "force a path (tests, benchmarks)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tessera.trainer._fused",
                                    "The trainer's one-pass float32 kernels, its products with a 0/1 input and max pooling.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fused(void) {
    fk_path = fk_best_path();
    return PyModule_Create(&module);
}
