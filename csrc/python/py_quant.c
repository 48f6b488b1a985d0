// py_quant.c — the quantization functions of xtral._core: quantize/dequantize rows, the
// quantized matmul, SIMD level control and FP8 block-scaled matrices. python/xtral/quant.py
// builds Quantizer and QTensor on top. Arrays are checked with the GIL held; the C work runs
// with it released.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "python/module_state.h"
#include "core/bandwidth.h"
#include "core/dtype.h"
#include "ops/ops.h"
#include "quant/fp8.h"
#include "quant/quant.h"

// ---- argument helpers ----

static const xt_dtype_info *type_arg(int type_id) {
    const xt_dtype_info *info = type_id >= 0 ? xt_dtype_get((uint32_t)type_id) : NULL;
    if (info == NULL) PyErr_Format(PyExc_ValueError, "unknown tensor type id %d", type_id);
    return info;
}

// A C-contiguous float32 array of `ndim` dimensions (borrowed check, no conversion).
static int check_f32(PyObject *obj, int ndim, const char *what) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a NumPy array, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != NPY_FLOAT32) {
        PyErr_Format(PyExc_TypeError, "%s must be float32, got %s", what,
                     PyArray_DESCR(a)->typeobj->tp_name);
        return -1;
    }
    if (PyArray_NDIM(a) != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimension(s), got %d", what, ndim,
                     PyArray_NDIM(a));
        return -1;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || PyArray_ISBYTESWAPPED(a)) {
        PyErr_Format(PyExc_ValueError, "%s must be C-contiguous, aligned and native-endian", what);
        return -1;
    }
    return 0;
}

static int row_bytes(const xt_dtype_info *info, uint32_t type, int64_t n, size_t *out) {
    if (!xt_dtype_row_size(type, n, out)) {
        PyErr_Format(PyExc_ValueError, "row length %lld is not a multiple of the %s block size %lld",
                     (long long)n, info->name, (long long)info->block_size);
        return -1;
    }
    return 0;
}

static PyObject *new_array(int nd, npy_intp d0, npy_intp d1, int typenum) {
    npy_intp dims[2] = {d0, d1};
    return PyArray_SimpleNew(nd, dims, typenum);
}

// ---- parallel row loops ----

typedef struct {
    const float *src;
    uint8_t *dst;
    int64_t n;
    size_t row_bytes;
    const float *imatrix;
    xt_quant_row_fn fn;
} quant_job;

static void quant_task(int64_t r, int64_t n_tasks, void *p) {
    (void)n_tasks;
    const quant_job *j = p;
    j->fn(j->src + r * j->n, j->dst + (size_t)r * j->row_bytes, j->n, j->imatrix);
}

// Pools are kept per thread count so repeated calls (benchmarks, models) do not pay for
// thread start-up; a pool busy in another Python thread is never shared: that caller gets a
// temporary one.
enum { POOL_CACHE = 8 };
static struct {
    int threads;
    xt_threadpool *pool;
    pthread_mutex_t lock;
} g_pools[POOL_CACHE] = {
    [0 ... POOL_CACHE - 1] = {0, NULL, PTHREAD_MUTEX_INITIALIZER},
};
static pthread_mutex_t g_pools_lock = PTHREAD_MUTEX_INITIALIZER;

// Borrows a pool of `threads` workers; *slot is the cache slot to release (-1: temporary).
static xt_status pool_acquire(int threads, xt_threadpool **out, int *slot) {
    *slot = -1;
    pthread_mutex_lock(&g_pools_lock);
    for (int i = 0; i < POOL_CACHE; i++) {
        if (g_pools[i].threads == 0) {
            if (xt_threadpool_new(threads, &g_pools[i].pool) == XT_OK) g_pools[i].threads = threads;
        }
        if (g_pools[i].threads == threads && pthread_mutex_trylock(&g_pools[i].lock) == 0) {
            *slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&g_pools_lock);
    if (*slot >= 0) {
        *out = g_pools[*slot].pool;
        return XT_OK;
    }
    return xt_threadpool_new(threads, out);
}

static void pool_release(xt_threadpool *pool, int slot) {
    if (slot >= 0) {
        pthread_mutex_unlock(&g_pools[slot].lock);
    } else {
        xt_threadpool_free(pool);
    }
}

// Runs fn over `n` tasks on `threads` threads (1: the calling thread alone).
static xt_status run_pool(int threads, xt_task_fn fn, void *ctx, int64_t n) {
    if (threads == 1 || n <= 1) {
        for (int64_t i = 0; i < n; i++) fn(i, n, ctx);
        return XT_OK;
    }
    xt_threadpool *pool = NULL;
    int slot;
    xt_status s = pool_acquire(threads, &pool, &slot);
    if (s != XT_OK) return s;
    s = xt_threadpool_run(pool, fn, ctx, n);
    pool_release(pool, slot);
    return s;
}

// ---- quantize / dequantize ----

static PyObject *py_quantize_rows(PyObject *module, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"x", "type_id", "imatrix", "threads", NULL};
    PyObject *x, *imatrix = Py_None;  // borrowed
    int type_id, threads = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oi|Oi:quantize_rows", kwlist, &x, &type_id,
                                     &imatrix, &threads)) {
        return NULL;
    }
    const xt_dtype_info *info = type_arg(type_id);
    if (info == NULL || check_f32(x, 2, "x") < 0) return NULL;
    const xt_quant_traits *qt = xt_quant_traits_get((xt_dtype)type_id);
    if (qt == NULL || qt->from_float == NULL) {
        PyErr_Format(PyExc_ValueError, "cannot quantize to %s", info->name);
        return NULL;
    }
    PyArrayObject *xa = (PyArrayObject *)x;
    int64_t rows = PyArray_DIM(xa, 0), n = PyArray_DIM(xa, 1);
    size_t rb;
    if (row_bytes(info, (uint32_t)type_id, n, &rb) < 0) return NULL;
    const float *im = NULL;
    if (imatrix != Py_None) {
        if (check_f32(imatrix, 1, "imatrix") < 0) return NULL;
        if (PyArray_DIM((PyArrayObject *)imatrix, 0) != n) {
            PyErr_Format(PyExc_ValueError, "imatrix has %lld entries; the rows have %lld columns",
                         (long long)PyArray_DIM((PyArrayObject *)imatrix, 0), (long long)n);
            return NULL;
        }
        im = PyArray_DATA((PyArrayObject *)imatrix);
    }
    if (threads < 1 || threads > 1024) {
        PyErr_Format(PyExc_ValueError, "threads must be in [1, 1024], got %d", threads);
        return NULL;
    }
    PyObject *out = new_array(2, (npy_intp)rows, (npy_intp)rb, NPY_UINT8);  // new
    if (out == NULL) return NULL;
    quant_job j = {PyArray_DATA(xa), PyArray_DATA((PyArrayObject *)out), n, rb, im, qt->from_float};
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = run_pool(threads, quant_task, &j, rows);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        Py_DECREF(out);
        return xt_raise_status(xt_state_from_module(module), s);
    }
    return out;
}

static PyObject *py_dequantize_rows(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer raw;
    int type_id;
    long long n;
    if (!PyArg_ParseTuple(args, "y*iL:dequantize_rows", &raw, &type_id, &n)) return NULL;
    PyObject *out = NULL;  // new
    const xt_dtype_info *info = type_arg(type_id);
    const xt_quant_traits *qt = info ? xt_quant_traits_get((xt_dtype)type_id) : NULL;
    size_t rb;
    if (info == NULL) goto done;
    if (qt == NULL || qt->to_float == NULL) {
        PyErr_Format(PyExc_ValueError, "cannot dequantize %s", info->name);
        goto done;
    }
    if (n <= 0) {
        PyErr_Format(PyExc_ValueError, "row length must be positive, got %lld", n);
        goto done;
    }
    if (row_bytes(info, (uint32_t)type_id, n, &rb) < 0) goto done;
    if ((size_t)raw.len % rb != 0) {
        PyErr_Format(PyExc_ValueError, "%zd bytes is not a whole number of %s rows of %lld (%zu bytes each)",
                     raw.len, info->name, n, rb);
        goto done;
    }
    int64_t rows = (int64_t)((size_t)raw.len / rb);
    out = new_array(2, (npy_intp)rows, (npy_intp)n, NPY_FLOAT32);
    if (out == NULL) goto done;
    float *dst = PyArray_DATA((PyArrayObject *)out);
    xt_dequant_row_fn fn = xt_quant_kernels_get()->to_float[type_id];
    Py_BEGIN_ALLOW_THREADS
    for (int64_t r = 0; r < rows; r++) fn((const uint8_t *)raw.buf + (size_t)r * rb, dst + r * n, n);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&raw);
    return out;
}

// ---- matmul and dot products ----

static PyObject *py_matmul(PyObject *module, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"w", "type_id", "n_in", "x", "threads", "scales", NULL};
    Py_buffer w;
    int type_id, threads = 1;
    long long n_in;
    PyObject *x, *scales = Py_None;  // borrowed
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*iLO|iO:matmul", kwlist, &w, &type_id, &n_in,
                                     &x, &threads, &scales)) {
        return NULL;
    }
    PyObject *out = NULL;  // new
    xt_module_state *st = xt_state_from_module(module);
    const xt_dtype_info *info = type_arg(type_id);
    size_t rb;
    if (info == NULL || check_f32(x, 2, "x") < 0) goto done;
    if (n_in <= 0 || PyArray_DIM((PyArrayObject *)x, 1) != n_in) {
        PyErr_Format(PyExc_ValueError, "x has %lld columns; the weight rows have %lld",
                     (long long)PyArray_DIM((PyArrayObject *)x, 1), n_in);
        goto done;
    }
    if (row_bytes(info, (uint32_t)type_id, n_in, &rb) < 0) goto done;
    if ((size_t)w.len % rb != 0) {
        PyErr_Format(PyExc_ValueError, "weight data is not a whole number of rows");
        goto done;
    }
    if (threads < 1 || threads > 1024) {
        PyErr_Format(PyExc_ValueError, "threads must be in [1, 1024], got %d", threads);
        goto done;
    }
    int64_t n_out = (int64_t)((size_t)w.len / rb), n_tok = PyArray_DIM((PyArrayObject *)x, 0);
    const float *sc = NULL;
    if (scales != Py_None) {
        if (check_f32(scales, 2, "scales") < 0) goto done;
        if (PyArray_DIM((PyArrayObject *)scales, 0) != xt_fp8_grid(n_out) ||
            PyArray_DIM((PyArrayObject *)scales, 1) != xt_fp8_grid(n_in)) {
            PyErr_SetString(PyExc_ValueError, "scales must have shape (ceil(out/128), ceil(in/128))");
            goto done;
        }
        sc = PyArray_DATA((PyArrayObject *)scales);
    }
    out = new_array(2, (npy_intp)n_tok, (npy_intp)n_out, NPY_FLOAT32);
    if (out == NULL) goto done;
    xt_matmul_args a = {.w = w.buf, .type = (xt_dtype)type_id, .n_out = n_out, .n_in = n_in,
                        .w_scales = sc, .x = PyArray_DATA((PyArrayObject *)x), .n_tok = n_tok,
                        .y = PyArray_DATA((PyArrayObject *)out)};
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    xt_threadpool *pool = NULL;
    xt_matmul_ctx *ctx = NULL;
    int slot = -1;
    s = threads > 1 ? pool_acquire(threads, &pool, &slot) : XT_OK;
    if (s == XT_OK) s = xt_matmul_ctx_new(pool, &ctx);
    if (s == XT_OK) s = xt_matmul_q(ctx, &a);
    xt_matmul_ctx_free(ctx);
    if (pool) pool_release(pool, slot);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        Py_CLEAR(out);
        xt_raise_status(st, s);
    }
done:
    PyBuffer_Release(&w);
    return out;
}

static PyObject *py_vec_dot_rows(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer w, a;
    int type_id;
    long long n;
    if (!PyArg_ParseTuple(args, "y*iy*L:vec_dot_rows", &w, &type_id, &a, &n)) return NULL;
    PyObject *out = NULL;
    const xt_dtype_info *info = type_arg(type_id);
    const xt_quant_traits *qt = info ? xt_quant_traits_get((xt_dtype)type_id) : NULL;
    size_t wb, ab;
    if (info == NULL) goto done;
    if (qt == NULL || xt_quant_kernels_get()->vec_dot[type_id] == NULL) {
        PyErr_Format(PyExc_ValueError, "%s has no dot product", info->name);
        goto done;
    }
    if (n <= 0 || row_bytes(info, (uint32_t)type_id, n, &wb) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "n must be positive");
        goto done;
    }
    const xt_dtype_info *ainfo = xt_dtype_get((uint32_t)qt->vec_dot_type);
    if (row_bytes(ainfo, (uint32_t)qt->vec_dot_type, n, &ab) < 0) goto done;
    if ((size_t)w.len != wb || (size_t)a.len != ab) {
        PyErr_Format(PyExc_ValueError, "rows must be %zu (%s) and %zu (%s) bytes, got %zd and %zd",
                     wb, info->name, ab, ainfo->name, w.len, a.len);
        goto done;
    }
    out = PyFloat_FromDouble(xt_quant_kernels_get()->vec_dot[type_id](n, w.buf, a.buf));
done:
    PyBuffer_Release(&w);
    PyBuffer_Release(&a);
    return out;
}

static PyObject *py_quantize_act(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *x;  // borrowed
    int type_id;
    if (!PyArg_ParseTuple(args, "Oi:quantize_act", &x, &type_id)) return NULL;
    const xt_dtype_info *info = type_arg(type_id);
    if (info == NULL || check_f32(x, 1, "x") < 0) return NULL;
    xt_quant_act_fn fn = xt_quant_kernels_get()->quantize_act[type_id];
    if (fn == NULL) {
        PyErr_Format(PyExc_ValueError, "%s is not an activation format", info->name);
        return NULL;
    }
    int64_t n = PyArray_DIM((PyArrayObject *)x, 0);
    size_t rb;
    if (row_bytes(info, (uint32_t)type_id, n, &rb) < 0) return NULL;
    PyObject *out = new_array(1, (npy_intp)rb, 0, NPY_UINT8);  // new
    if (out == NULL) return NULL;
    fn(PyArray_DATA((PyArrayObject *)x), PyArray_DATA((PyArrayObject *)out), n);
    return out;
}

// y = u B^T through the low-rank terms' packed B^T (the dispatched kernel).
static PyObject *py_lowrank_bt(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *u, *bt;  // borrowed
    int type_id;
    if (!PyArg_ParseTuple(args, "OOi:lowrank_bt", &u, &bt, &type_id)) return NULL;
    if (check_f32(u, 2, "u") < 0 || check_f32(bt, 2, "bt") < 0) return NULL;
    const int64_t n_tok = PyArray_DIM((PyArrayObject *)u, 0);
    const int64_t r = PyArray_DIM((PyArrayObject *)u, 1);
    const int64_t out = PyArray_DIM((PyArrayObject *)bt, 1);
    if (PyArray_DIM((PyArrayObject *)bt, 0) != r || r < 1 || out < 1) {
        PyErr_Format(PyExc_ValueError, "u (%lld, %lld) and bt (%lld, %lld) do not fit",
                     (long long)n_tok, (long long)r,
                     (long long)PyArray_DIM((PyArrayObject *)bt, 0), (long long)out);
        return NULL;
    }
    if (type_id != XT_DTYPE_F32 && !(type_id == XT_DTYPE_Q8_0 && out % XT_LOWRANK_CHUNK == 0)) {
        PyErr_SetString(PyExc_ValueError, "type must be F32, or Q8_0 with out % 32 == 0");
        return NULL;
    }
    void *packed = PyMem_Malloc(xt_lowrank_bt_bytes((xt_dtype)type_id, r, out));
    if (packed == NULL) return PyErr_NoMemory();
    PyObject *y = new_array(2, (npy_intp)n_tok, (npy_intp)out, NPY_FLOAT32);  // new
    if (y != NULL) {
        xt_lowrank_pack_bt((xt_dtype)type_id, PyArray_DATA((PyArrayObject *)bt), r, out, packed);
        xt_lowrank_term t = {.bt = packed, .bt_type = (xt_dtype)type_id, .r = r, .out = out};
        float *yd = PyArray_DATA((PyArrayObject *)y);
        const float *ud = PyArray_DATA((PyArrayObject *)u);
        memset(yd, 0, (size_t)(n_tok * out) * sizeof(float));
        for (int64_t k = 0; k < n_tok; k++) xt_lowrank_add_bt(&t, ud + k * r, 0, out, yd + k * out);
    }
    PyMem_Free(packed);
    return y;
}

// ---- SIMD levels and traits ----

static PyObject *py_simd_levels(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    xt_simd_level max = xt_simd_detect();
    PyObject *list = PyList_New(0);  // new
    for (int l = 0; list && l <= (int)max; l++) {
        PyObject *s = PyUnicode_FromString(xt_simd_level_name((xt_simd_level)l));  // new
        if (s == NULL || PyList_Append(list, s) < 0) Py_CLEAR(list);
        Py_XDECREF(s);
    }
    return list;
}

static PyObject *py_simd_level(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(xt_simd_level_name(xt_quant_kernels_get()->level));
}

static PyObject *py_set_simd(PyObject *module, PyObject *arg) {
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) return NULL;
    for (int l = 0; l < XT_SIMD_COUNT; l++) {
        if (strcmp(name, xt_simd_level_name((xt_simd_level)l)) == 0) {
            xt_status s = xt_simd_set_level((xt_simd_level)l);
            if (s != XT_OK) return xt_raise_status(xt_state_from_module(module), s);
            Py_RETURN_NONE;
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown SIMD level '%s' (scalar, avx2, avx512)", name);
    return NULL;
}

static PyObject *py_quant_traits(PyObject *module, PyObject *arg) {
    (void)module;
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    const xt_dtype_info *info = type_arg((int)id);
    if (info == NULL) return NULL;
    const xt_quant_traits *qt = xt_quant_traits_get((xt_dtype)id);
    return Py_BuildValue("{s:O,s:O,s:i,s:O,s:O}", "can_dequantize",
                         qt && qt->to_float ? Py_True : Py_False, "can_quantize",
                         qt && qt->from_float ? Py_True : Py_False, "vec_dot_type",
                         qt ? (int)qt->vec_dot_type : -1, "has_matmul",
                         qt && (qt->vec_dot || id == XT_DTYPE_FP8_E4M3 || id == XT_DTYPE_FP8_E5M2)
                             ? Py_True : Py_False,
                         "uses_imatrix", qt && qt->uses_imatrix ? Py_True : Py_False);
}

// ---- FP8 block-scaled matrices ----

static PyObject *py_fp8_quantize(PyObject *module, PyObject *arg) {
    (void)module;
    if (check_f32(arg, 2, "x") < 0) return NULL;
    PyArrayObject *x = (PyArrayObject *)arg;
    int64_t rows = PyArray_DIM(x, 0), cols = PyArray_DIM(x, 1);
    PyObject *q = new_array(2, (npy_intp)rows, (npy_intp)cols, NPY_UINT8);          // new
    PyObject *s = q ? new_array(2, (npy_intp)xt_fp8_grid(rows), (npy_intp)xt_fp8_grid(cols),
                                NPY_FLOAT32) : NULL;                                  // new
    if (s == NULL) {
        Py_XDECREF(q);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    xt_fp8_quantize_matrix(PyArray_DATA(x), rows, cols, PyArray_DATA((PyArrayObject *)q),
                           PyArray_DATA((PyArrayObject *)s));
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(NN)", q, s);
}

static PyObject *py_fp8_dequantize(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *q, *scales;  // borrowed
    int e5m2;
    if (!PyArg_ParseTuple(args, "OOp:fp8_dequantize", &q, &scales, &e5m2)) return NULL;
    if (!PyArray_Check(q) || PyArray_TYPE((PyArrayObject *)q) != NPY_UINT8 ||
        PyArray_NDIM((PyArrayObject *)q) != 2 || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)q)) {
        PyErr_SetString(PyExc_TypeError, "q must be a C-contiguous 2-D uint8 array");
        return NULL;
    }
    if (check_f32(scales, 2, "scales") < 0) return NULL;
    int64_t rows = PyArray_DIM((PyArrayObject *)q, 0), cols = PyArray_DIM((PyArrayObject *)q, 1);
    if (PyArray_DIM((PyArrayObject *)scales, 0) != xt_fp8_grid(rows) ||
        PyArray_DIM((PyArrayObject *)scales, 1) != xt_fp8_grid(cols)) {
        PyErr_SetString(PyExc_ValueError, "scales must have shape (ceil(rows/128), ceil(cols/128))");
        return NULL;
    }
    PyObject *out = new_array(2, (npy_intp)rows, (npy_intp)cols, NPY_FLOAT32);  // new
    if (out == NULL) return NULL;
    Py_BEGIN_ALLOW_THREADS
    xt_fp8_dequantize_rows(PyArray_DATA((PyArrayObject *)q), PyArray_DATA((PyArrayObject *)scales),
                           cols, 0, rows, e5m2 != 0, PyArray_DATA((PyArrayObject *)out));
    Py_END_ALLOW_THREADS
    return out;
}

// ---- benchmark support ----

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Best read bandwidth (bytes/s) over `repeats` passes of a fresh `nbytes` buffer.
static PyObject *py_read_bandwidth(PyObject *module, PyObject *args) {
    long long nbytes;
    int threads, repeats;
    if (!PyArg_ParseTuple(args, "Lii:read_bandwidth", &nbytes, &threads, &repeats)) return NULL;
    if (nbytes < 256 || threads < 1 || threads > 256 || repeats < 1) {
        PyErr_SetString(PyExc_ValueError, "nbytes >= 256, threads in [1, 256], repeats >= 1");
        return NULL;
    }
    size_t n = (size_t)nbytes / 256 * 256;
    uint8_t *buf = aligned_alloc(64, n);
    if (buf == NULL) return PyErr_NoMemory();
    double best = 0.0;
    uint64_t sum = 0;
    xt_status s = XT_OK;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 131u + 7u);  // fault every page in
    xt_threadpool *pool = NULL;
    int slot = -1;
    if (threads > 1) s = pool_acquire(threads, &pool, &slot);
    for (int r = 0; s == XT_OK && r <= repeats; r++) {  // pass 0 warms up
        uint64_t c;
        double t0 = now_seconds();
        s = xt_read_probe(pool, buf, n, &c);
        double dt = now_seconds() - t0;
        sum += c;
        if (r > 0 && dt > 0 && (double)n / dt > best) best = (double)n / dt;
    }
    if (pool) pool_release(pool, slot);
    Py_END_ALLOW_THREADS
    free(buf);
    if (s != XT_OK) return xt_raise_status(xt_state_from_module(module), s);
    return Py_BuildValue("(dK)", best, (unsigned long long)sum);
}

PyMethodDef xt_quant_methods[] = {
    {"read_bandwidth", py_read_bandwidth, METH_VARARGS,
     "read_bandwidth(nbytes, threads, repeats) -> (best bytes/s, checksum)"},
    {"quantize_rows", (PyCFunction)(void (*)(void))py_quantize_rows, METH_VARARGS | METH_KEYWORDS,
     "quantize_rows(x, type_id, imatrix=None, threads=1) -> uint8 [rows, row_bytes]"},
    {"dequantize_rows", py_dequantize_rows, METH_VARARGS,
     "dequantize_rows(raw, type_id, n_per_row) -> float32 [rows, n_per_row]"},
    {"matmul", (PyCFunction)(void (*)(void))py_matmul, METH_VARARGS | METH_KEYWORDS,
     "matmul(w, type_id, n_in, x, threads=1, scales=None) -> float32 [n_tok, n_out]"},
    {"vec_dot_rows", py_vec_dot_rows, METH_VARARGS,
     "vec_dot_rows(w_row, type_id, act_row, n) -> float (dispatched kernel)"},
    {"quantize_act", py_quantize_act, METH_VARARGS,
     "quantize_act(x, act_type_id) -> uint8 row (dispatched activation quantizer)"},
    {"lowrank_bt", py_lowrank_bt, METH_VARARGS,
     "lowrank_bt(u, bt, type_id) -> u @ bt through the packed low-rank B^T (F32 or Q8_0)"},
    {"simd_levels", py_simd_levels, METH_NOARGS, "SIMD levels this CPU supports."},
    {"simd_level", py_simd_level, METH_NOARGS, "The SIMD level in use."},
    {"set_simd", py_set_simd, METH_O, "Pin the SIMD level ('scalar', 'avx2', 'avx512')."},
    {"quant_traits", py_quant_traits, METH_O, "Kernel facts of a tensor type id."},
    {"fp8_quantize", py_fp8_quantize, METH_O,
     "fp8_quantize(x float32 2-D) -> (E4M3 bytes, float32 128x128 block scales)"},
    {"fp8_dequantize", py_fp8_dequantize, METH_VARARGS,
     "fp8_dequantize(q, scales, e5m2) -> float32"},
    {NULL, NULL, 0, NULL},
};
