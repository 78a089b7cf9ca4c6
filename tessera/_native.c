/*
 * tessera._native: the C runtime (runtimes/c, tessera.h) in-process, for
 * tessera.exporter.native. A thin layer: bytes in, bytes out, no numpy
 * headers; the Python side converts arrays and maps errors to ModelError.
 *
 *   Model(json_bytes)              tsr_model_load_alloc; raises Error(code, message)
 *   Model.inputs(), .outputs()     [(name, dtype), ...] in declaration order
 *   Model.run([(name, dtype, shape, buffer), ...])
 *                                  [(name, dtype, shape, bytearray), ...] in output order
 *
 * dtype is the tsr_dtype number (0 float32, 1 int32). Buffers are C-contiguous
 * and hold exactly the shape's elements (4 bytes each). The GIL is released
 * while the model loads and runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stdarg.h>

#include "tessera.h"

static PyObject *native_error; /* tessera._native.Error(code_name, message) */

typedef struct {
    PyObject_HEAD
    tsr_model *model;
    /* The workspace is kept between runs (a fresh one would cost page faults
     * on every call); a run that finds it busy (another thread) uses its own. */
    PyThread_type_lock ws_lock;
    void *ws;
    size_t ws_len;
} NativeModel;

static PyObject *raise_tsr(const tsr_error *e)
{
    PyObject *args = Py_BuildValue("(ss)", e->name ? e->name : tsr_code_name(e->code), e->message);
    if (args) {
        PyErr_SetObject(native_error, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* Error(code_name, printf-style message) for a SPEC code found on this side of the API. */
static PyObject *raise_code(tsr_code code, const char *fmt, ...)
{
    tsr_error e;
    va_list ap;
    e.code = code;
    e.name = tsr_code_name(code);
    va_start(ap, fmt);
    PyOS_vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return raise_tsr(&e);
}

static int model_init(NativeModel *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"json", NULL};
    Py_buffer text;
    tsr_error e;
    tsr_code rc;
    tsr_model *model = NULL;
    if (self->model) { /* a run on another thread may be using the loaded one */
        PyErr_SetString(PyExc_RuntimeError, "tessera._native.Model: already loaded");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*:Model", kwlist, &text))
        return -1;
    memset(&e, 0, sizeof e);
    Py_BEGIN_ALLOW_THREADS
    rc = tsr_model_load_alloc((const char *)text.buf, (size_t)text.len, &model, &e);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&text);
    if (rc != TSR_OK) {
        raise_tsr(&e);
        return -1;
    }
    self->model = model;
    if (!self->ws_lock && !(self->ws_lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void model_dealloc(NativeModel *self)
{
    if (self->model)
        tsr_model_free(self->model);
    if (self->ws_lock)
        PyThread_free_lock(self->ws_lock);
    PyMem_RawFree(self->ws);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_loaded(const NativeModel *self)
{
    if (!self->model) {
        PyErr_SetString(PyExc_RuntimeError, "tessera._native.Model: not loaded");
        return 0;
    }
    return 1;
}

typedef const char *(*name_fn)(const tsr_model *, int32_t);
typedef int32_t (*dtype_fn)(const tsr_model *, int32_t);

static PyObject *interface(const NativeModel *self, int32_t n, name_fn name, dtype_fn dtype)
{
    PyObject *list;
    int32_t i;
    if (!(list = PyList_New(n)))
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *item = Py_BuildValue("(si)", name(self->model, i), (int)dtype(self->model, i));
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *model_inputs(NativeModel *self, PyObject *unused)
{
    (void)unused;
    if (!check_loaded(self))
        return NULL;
    return interface(self, tsr_model_num_inputs(self->model), tsr_model_input_name, tsr_model_input_dtype);
}

static PyObject *model_outputs(NativeModel *self, PyObject *unused)
{
    (void)unused;
    if (!check_loaded(self))
        return NULL;
    return interface(self, tsr_model_num_outputs(self->model), tsr_model_output_name, tsr_model_output_dtype);
}

/* One (name, dtype, shape, buffer) feed item into *t and *view. Returns 0, or
 * -1 with an exception set (the buffer is then not held). */
static int read_feed_item(PyObject *item, tsr_tensor *t, Py_buffer *view)
{
    PyObject *name, *shape, *data, *dims;
    int dtype;
    Py_ssize_t rank, i;
    Py_ssize_t count = 1;
    if (!PyArg_ParseTuple(item, "UiOO:feed item", &name, &dtype, &shape, &data))
        return -1;
    if (dtype != TSR_FLOAT32 && dtype != TSR_INT32) {
        PyErr_Format(PyExc_ValueError, "feed item: dtype %d is not 0 (float32) or 1 (int32)", dtype);
        return -1;
    }
    if (!(t->name = PyUnicode_AsUTF8(name)))
        return -1;
    if (!(dims = PySequence_Fast(shape, "feed item: shape must be a sequence")))
        return -1;
    rank = PySequence_Fast_GET_SIZE(dims);
    if (rank > TSR_MAX_RANK) {
        Py_DECREF(dims);
        raise_code(TSR_E_INPUT, "input '%s': rank %d, at most %d", t->name, (int)rank, TSR_MAX_RANK);
        return -1;
    }
    t->rank = (int32_t)rank;
    for (i = 0; i < rank; i++) {
        Py_ssize_t d = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(dims, i), PyExc_OverflowError);
        if (d == -1 && PyErr_Occurred()) {
            Py_DECREF(dims);
            return -1;
        }
        if (d < 0 || d > INT32_MAX) {
            Py_DECREF(dims);
            raise_code(TSR_E_LIMIT, "input '%s': dimension %zd exceeds %ld", t->name, d, TSR_MAX_ELEMENTS);
            return -1;
        }
        t->shape[i] = (int32_t)d;
        count = d == 0 || count <= PY_SSIZE_T_MAX / 4 / d ? count * d : PY_SSIZE_T_MAX / 4 + 1;
    }
    Py_DECREF(dims);
    if (PyObject_GetBuffer(data, view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (count > PY_SSIZE_T_MAX / 4 || view->len != count * 4) {
        PyErr_Format(PyExc_ValueError, "input '%s': buffer of %zd bytes for %zd elements", t->name, view->len,
                     count);
        PyBuffer_Release(view);
        return -1;
    }
    t->dtype = dtype;
    if (dtype == TSR_INT32)
        t->idata = (const int32_t *)view->buf;
    else
        t->data = (const float *)view->buf;
    return 0;
}

static PyObject *output_item(const tsr_tensor *t)
{
    PyObject *shape, *data, *item;
    Py_ssize_t count = 1;
    int32_t i;
    const void *src = t->dtype == TSR_INT32 ? (const void *)t->idata : (const void *)t->data;
    if (!(shape = PyTuple_New(t->rank)))
        return NULL;
    for (i = 0; i < t->rank; i++) {
        PyObject *d = PyLong_FromLong((long)t->shape[i]);
        if (!d) {
            Py_DECREF(shape);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, i, d);
        count *= t->shape[i]; /* each tensor is within SPEC 8's 2^26 elements */
    }
    data = PyByteArray_FromStringAndSize(count ? (const char *)src : NULL, count * 4);
    if (!data) {
        Py_DECREF(shape);
        return NULL;
    }
    item = Py_BuildValue("(siNN)", t->name, (int)t->dtype, shape, data);
    return item;
}

/* The workspace for one run: the kept one (lock held, grown if needed) or,
 * when another thread holds it, a private one (*own set). NULL: no memory. */
static void *take_workspace(NativeModel *self, size_t len, int *own)
{
    size_t want = len ? len : 8;
    if (PyThread_acquire_lock(self->ws_lock, NOWAIT_LOCK)) {
        *own = 0;
        if (self->ws_len < want) {
            PyMem_RawFree(self->ws);
            self->ws_len = 0;
            if (!(self->ws = PyMem_RawMalloc(want))) {
                PyThread_release_lock(self->ws_lock);
                return NULL;
            }
            self->ws_len = want;
        }
        return self->ws;
    }
    *own = 1;
    return PyMem_RawMalloc(want);
}

static void give_back_workspace(NativeModel *self, void *ws, int own)
{
    if (own)
        PyMem_RawFree(ws);
    else
        PyThread_release_lock(self->ws_lock);
}

static PyObject *model_run(NativeModel *self, PyObject *feed)
{
    PyObject *items = NULL, *result = NULL;
    tsr_tensor *ins = NULL, *outs = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t n, held = 0, i;
    int32_t n_out;
    size_t ws_len = 0;
    void *ws = NULL;
    int own = 0;
    tsr_error e;
    tsr_code rc;
    if (!check_loaded(self))
        return NULL;
    if (!(items = PySequence_Fast(feed, "run: the feed must be a sequence of (name, dtype, shape, buffer)")))
        return NULL;
    n = PySequence_Fast_GET_SIZE(items);
    if (n > INT32_MAX) {
        raise_code(TSR_E_INPUT, "%zd inputs", n);
        goto done;
    }
    n_out = tsr_model_num_outputs(self->model);
    ins = (tsr_tensor *)PyMem_Calloc((size_t)n + 1, sizeof *ins);
    views = (Py_buffer *)PyMem_Calloc((size_t)n + 1, sizeof *views);
    outs = (tsr_tensor *)PyMem_Calloc((size_t)n_out + 1, sizeof *outs);
    if (!ins || !views || !outs) {
        PyErr_NoMemory();
        goto done;
    }
    for (held = 0; held < n; held++)
        if (read_feed_item(PySequence_Fast_GET_ITEM(items, held), &ins[held], &views[held]) < 0)
            goto done;
    memset(&e, 0, sizeof e);
    if (tsr_bind(self->model, ins, (int32_t)n, &ws_len, &e) != TSR_OK) {
        raise_tsr(&e);
        goto done;
    }
    if (!(ws = take_workspace(self, ws_len, &own))) {
        raise_code(TSR_E_LIMIT, "out of memory (%lu bytes of workspace)", (unsigned long)ws_len);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = tsr_run(self->model, ins, (int32_t)n, outs, ws, ws_len ? ws_len : 8, &e);
    Py_END_ALLOW_THREADS
    if (rc != TSR_OK) {
        raise_tsr(&e);
    } else if ((result = PyList_New(n_out))) {
        for (i = 0; i < n_out; i++) {
            PyObject *item = output_item(&outs[i]);
            if (!item) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, i, item);
        }
    }
    give_back_workspace(self, ws, own);
done:
    for (i = 0; i < held; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(ins);
    PyMem_Free(views);
    PyMem_Free(outs);
    Py_XDECREF(items);
    return result;
}

static PyMethodDef model_methods[] = {
    {"inputs", (PyCFunction)model_inputs, METH_NOARGS, "[(name, dtype), ...] of the graph inputs"},
    {"outputs", (PyCFunction)model_outputs, METH_NOARGS, "[(name, dtype), ...] of the graph outputs"},
    {"run", (PyCFunction)model_run, METH_O, "run([(name, dtype, shape, buffer), ...]) -> outputs"},
    {NULL, NULL, 0, NULL}
};

static PyTypeObject NativeModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tessera._native.Model",
    .tp_basicsize = sizeof(NativeModel),
    .tp_dealloc = (destructor)model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A model loaded by the C runtime: Model(json_bytes).",
    .tp_methods = model_methods,
    .tp_init = (initproc)model_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "tessera._native", "The Tessera C runtime, in-process.", -1, NULL, NULL, NULL, NULL,
    NULL
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m;
    if (PyType_Ready(&NativeModelType) < 0)
        return NULL;
    if (!(m = PyModule_Create(&native_module)))
        return NULL;
    native_error = PyErr_NewException("tessera._native.Error", NULL, NULL);
    if (!native_error || PyModule_AddObjectRef(m, "Error", native_error) < 0
        || PyModule_AddObjectRef(m, "Model", (PyObject *)&NativeModelType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
