// simd_emulated.c — checks the x86 SIMD kernels (quant/arch/x86_avx2.c, x86_avx512.c) against
// the scalar reference kernels, with the AVX-512 code built on SIMDe so any x86 CPU can run it.
//
// Built by tests/simd/build.sh (run by tests/test_simd_emulated.py): x86_avx2.c once and
// x86_avx512.c twice (plain and VNNI) with XT_X86_TEST_SIMDE, their table fillers renamed to
// xt_test_fill_*; the reference kernels come from quant/*.c compiled as in the library.
//
// For every level (avx2, avx512, avx512-vnni) and every entry its table provides:
// * vec_dot[t] against the reference xt_vec_dot_<t> (traits[t].vec_dot):
//       |simd - ref| <= 1e-6 * sum_i |w_i * a_i|      (w, a: the decoded rows, in double)
//   on weights from the reference quantizer, random codes with sane scales, extreme codes
//   and extreme scales, against activations from the reference activation quantizer
//   (Gaussian, small, +-max codes, constant, spikes); every block count residue the kernels
//   unroll over (1..9 blocks, long rows with odd tails).
// * gemm[t] and gemm_b4[t] (tile kernels) entry by entry against the reference vec_dot of
//   that row and token, same bound, on tiles of 1..9 rows x 1..9 tokens (every edge tile)
//   whose rows mix the weight modes and whose tokens mix the activation modes (K-quants also
//   on an 11 x 67 tile of 5 super-blocks); the tiles that keep llama.cpp's arithmetic also bit
//   for bit against the avx2 table's vec_dot (gemm) or vec_dot_b4 (gemm_b4).
// * gemv[t] (one-token row kernels) bit for bit against the level's own vec_dot of each row,
//   1..9 rows (every group and tail), rows mixing the weight modes, every activation mode.
// * quantize_act[t] byte for byte against the reference xt_quant_act_* on random rows and
//   edge rows (NaN, +-Inf, zeros, -0, .5 ties, subnormals, FLT_MAX, f16 overflow).
// Prints failures, then "N passed, M failed"; exits 1 when M > 0.
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "quant/fp16.h"
#include "quant/quant.h"

// the SIMDe-built tables (renamed by build.sh)
void xt_test_fill_avx2(xt_quant_kernels *k);
void xt_test_fill_avx512(xt_quant_kernels *k);
void xt_test_fill_avx512_vnni(xt_quant_kernels *k);
void xt_test_fill_avx2_gemm(xt_quant_kernels *k);
void xt_test_fill_avx2_gemm_k(xt_quant_kernels *k);
void xt_test_fill_avx2_gemv(xt_quant_kernels *k);

enum { MAX_N = 129 * 32, MAX_ROW_BYTES = MAX_N * 4 + 64, MAX_PRINTED = 40 };

// ---- counters ----

static long g_passed, g_failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...) {
    if (ok) {
        g_passed++;
        return;
    }
    if (g_failed++ < MAX_PRINTED) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

// ---- random numbers (xorshift64, fixed seed: runs are reproducible) ----

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double urand(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static double gauss(void) {
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

// ---- the reference table ----

static xt_quant_traits g_ref[XT_DTYPE_COUNT];

static xt_quant_act_fn ref_act(xt_dtype t) {
    switch (t) {
    case XT_DTYPE_Q8_0: return xt_quant_act_q8_0;
    case XT_DTYPE_Q8_1: return xt_quant_act_q8_1;
    case XT_DTYPE_Q8_K: return xt_quant_act_q8_K;
    default: return NULL;
    }
}

static const char *type_name(int t) {
    const xt_dtype_info *info = xt_dtype_get((uint32_t)t);
    return info ? info->name : "?";
}

static int64_t block_size(int t) { return xt_dtype_get((uint32_t)t)->block_size; }

static size_t row_bytes(int t, int64_t n) {
    size_t b = 0;
    if (!xt_dtype_row_size((uint32_t)t, n, &b)) return 0;
    return b;
}

// ---- weight rows ----

// Scale fields of each weight block: offset, and kind (signed f16, positive f16, E8M0 byte).
typedef enum { SC_H, SC_HP, SC_E8 } scale_kind;
typedef struct {
    int type;
    int n_fields;
    size_t off[2];
    scale_kind kind[2];
} scale_layout;

#define SL1(t, blk, f, k) {t, 1, {offsetof(blk, f), 0}, {k, k}}
#define SL2(t, blk, f, g, k) {t, 2, {offsetof(blk, f), offsetof(blk, g)}, {k, k}}
static const scale_layout k_layouts[] = {
    SL1(XT_DTYPE_Q4_0, block_q4_0, d, SC_H),     SL2(XT_DTYPE_Q4_1, block_q4_1, d, m, SC_H),
    SL1(XT_DTYPE_Q5_0, block_q5_0, d, SC_H),     SL2(XT_DTYPE_Q5_1, block_q5_1, d, m, SC_H),
    SL1(XT_DTYPE_Q8_0, block_q8_0, d, SC_H),     SL1(XT_DTYPE_IQ4_NL, block_iq4_nl, d, SC_H),
    SL1(XT_DTYPE_MXFP4, block_mxfp4, e, SC_E8),  SL2(XT_DTYPE_Q2_K, block_q2_K, d, dmin, SC_HP),
    SL1(XT_DTYPE_Q3_K, block_q3_K, d, SC_H),     SL2(XT_DTYPE_Q4_K, block_q4_K, d, dmin, SC_HP),
    SL2(XT_DTYPE_Q5_K, block_q5_K, d, dmin, SC_HP), SL1(XT_DTYPE_Q6_K, block_q6_K, d, SC_H),
    SL1(XT_DTYPE_IQ4_XS, block_iq4_xs, d, SC_H),
};

static const scale_layout *layout_of(int t) {
    for (size_t i = 0; i < sizeof k_layouts / sizeof k_layouts[0]; i++) {
        if (k_layouts[i].type == t) return &k_layouts[i];
    }
    return NULL;
}

static int is_float_type(int t) {
    return t == XT_DTYPE_F32 || t == XT_DTYPE_F16 || t == XT_DTYPE_BF16;
}

enum { W_QUANT, W_RANDOM, W_ONES, W_0x80, W_ZEROS, W_SCALE_EDGE, W_COUNT };
static const char *const k_wmode_names[W_COUNT] = {"quantized", "random", "0xFF", "0x80",
                                                    "0x00",      "scale-edge"};

static void put_half(uint8_t *p, xt_half h) { memcpy(p, &h, sizeof h); }

// One scale value: sane (mode != W_SCALE_EDGE) or from the edge set (0, subnormals, large).
static void set_scale(uint8_t *p, scale_kind kind, int edge) {
    if (kind == SC_E8) {
        static const uint8_t edges[] = {0, 1, 2, 3, 100, 127, 150, 160};
        *p = edge ? edges[rnd() % sizeof edges] : (uint8_t)(118 + rnd() % 20);
        return;
    }
    float v;
    if (edge) {
        static const float edges[] = {0.0f, 5.96046448e-8f, 6.09755516e-5f, 1e-3f, 4.0f, 1024.0f};
        v = edges[rnd() % (sizeof edges / sizeof edges[0])];
    } else {
        v = (float)(0.001 + 0.05 * urand());
    }
    if (kind == SC_H && (rnd() & 1)) v = -v;
    put_half(p, xt_fp32_to_fp16(v));
}

// Fills a weight row (n elements of type t) in the given mode; false when the mode does not
// apply (float types only take W_QUANT and W_SCALE_EDGE).
static int make_weights(int t, int mode, uint8_t *w, int64_t n, float *tmp) {
    size_t nbytes = row_bytes(t, n);
    if (is_float_type(t)) {
        if (mode != W_QUANT && mode != W_SCALE_EDGE) return 0;
        double scale = mode == W_SCALE_EDGE ? 1e4 : 1.0;
        for (int64_t i = 0; i < n; i++) tmp[i] = (float)(gauss() * scale);
        if (mode == W_SCALE_EDGE) {
            for (int64_t i = 0; i < n; i += 5) tmp[i] = 0.0f;
        }
        g_ref[t].from_float(tmp, w, n, NULL);
        return 1;
    }
    if (mode == W_QUANT) {
        if (g_ref[t].from_float == NULL) return 0;
        for (int64_t i = 0; i < n; i++) tmp[i] = (float)(gauss() * 0.02);
        g_ref[t].from_float(tmp, w, n, NULL);
        return 1;
    }
    const scale_layout *sl = layout_of(t);
    if (sl == NULL) return 0;
    for (size_t i = 0; i < nbytes; i++) {
        switch (mode) {
        case W_ONES: w[i] = 0xFF; break;
        case W_0x80: w[i] = 0x80; break;
        case W_ZEROS: w[i] = 0x00; break;
        default: w[i] = (uint8_t)rnd(); break;
        }
    }
    size_t bsz = xt_dtype_get((uint32_t)t)->type_size;
    for (int64_t b = 0; b < n / block_size(t); b++) {
        for (int f = 0; f < sl->n_fields; f++) {
            set_scale(w + (size_t)b * bsz + sl->off[f], sl->kind[f], mode == W_SCALE_EDGE);
        }
    }
    return 1;
}

// ---- activation rows ----

enum { A_GAUSS, A_SMALL, A_ALT, A_CONST, A_SPIKE, A_COUNT };
static const char *const k_amode_names[A_COUNT] = {"gauss", "small+zeros", "alternating",
                                                    "constant", "spikes"};

static void make_act_floats(int mode, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        switch (mode) {
        case A_SMALL: x[i] = i < 64 ? 0.0f : (float)(gauss() * 1e-3); break;
        case A_ALT: x[i] = (i & 1) ? -1.5f : 1.5f; break;   // codes +-127
        case A_CONST: x[i] = 0.75f; break;                  // codes 127
        case A_SPIKE: x[i] = (i % 37 == 3) ? 50.0f : (float)(gauss() * 0.1); break;
        default: x[i] = (float)gauss(); break;
        }
    }
}

// ---- vec_dot ----

static double sum_abs_products(int t, int at, const void *w, const void *a, int64_t n,
                               float *fw, float *fa) {
    g_ref[t].to_float(w, fw, n);
    if (at == XT_DTYPE_F32) {
        memcpy(fa, a, (size_t)n * sizeof(float));
    } else {
        g_ref[at].to_float(a, fa, n);
    }
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)fw[i] * (double)fa[i]);
    return s;
}

typedef struct {
    const char *name;
    xt_quant_kernels k;
} level;

static void check_vec_dot(const level *lv, int t, uint8_t *w, uint8_t *a, float *x, float *fw,
                          float *fa) {
    const int at = g_ref[t].vec_dot_type;
    const int64_t blk = block_size(t);
    static const int64_t counts_32[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 128, 129};
    static const int64_t counts_256[] = {1, 2, 3, 4, 5, 11, 16};
    static const int64_t counts_1[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 300, 4096};
    const int64_t *counts = blk == 1 ? counts_1 : blk == 32 ? counts_32 : counts_256;
    size_t n_counts = blk == 1 ? sizeof counts_1 / sizeof counts_1[0]
                      : blk == 32 ? sizeof counts_32 / sizeof counts_32[0]
                                  : sizeof counts_256 / sizeof counts_256[0];
    check(g_ref[t].vec_dot != NULL && g_ref[t].to_float != NULL,
          "%s %s: the table has a vec_dot but the reference has none", lv->name, type_name(t));
    if (g_ref[t].vec_dot == NULL || g_ref[t].to_float == NULL) return;
    for (size_t ci = 0; ci < n_counts; ci++) {
        const int64_t n = counts[ci] * blk;
        if (n > MAX_N) continue;
        for (int wm = 0; wm < W_COUNT; wm++) {
            if (!make_weights(t, wm, w, n, x)) continue;
            for (int am = 0; am < A_COUNT; am++) {
                make_act_floats(am, x, n);
                if (at == XT_DTYPE_F32) {
                    memcpy(a, x, (size_t)n * sizeof(float));
                } else {
                    ref_act(at)(x, a, n);
                }
                float ref = g_ref[t].vec_dot(n, w, a);
                float got = lv->k.vec_dot[t](n, w, a);
                double mag = sum_abs_products(t, at, w, a, n, fw, fa);
                double err = fabs((double)got - (double)ref);
                int ok = isfinite(ref) ? (isfinite(got) && err <= 1e-6 * mag)
                                       : memcmp(&got, &ref, sizeof got) == 0;
                check(ok,
                      "%s vec_dot %s n=%lld weights=%s act=%s: simd %.9g ref %.9g |diff| %.3g > "
                      "1e-6 * sum|w a| = %.3g",
                      lv->name, type_name(t), (long long)n, k_wmode_names[wm],
                      k_amode_names[am], (double)got, (double)ref, err, 1e-6 * mag);
            }
        }
    }
}

// ---- gemm (tile kernels) ----

enum { G_MAX_ROWS = 9, G_MAX_TOK = 9, G_N_BLOCKS_32 = 7, G_N_BLOCKS_256 = 2 };
// One long case for the K-quant tiles: more super-blocks than they unpack at a time (4) and
// more tokens than they accumulate at a time (64), with a partial row group.
enum { G_LONG_BLOCKS_256 = 5, G_LONG_ROWS = 11, G_LONG_TOK = 67 };
enum { G_BUF_ROWS = G_LONG_ROWS, G_BUF_TOK = G_LONG_TOK };

// The tiles that keep the AVX2 dot product's bits (docs/development.md "Numerics"): their
// entries must equal the avx2 table's vec_dot (grouped: vec_dot_b4) exactly.
static int gemm_is_exact(int t, int grouped) {
    if (grouped) return t == XT_DTYPE_Q4_K || t == XT_DTYPE_Q6_K;
    return t == XT_DTYPE_Q4_1 || t == XT_DTYPE_Q5_0 || t == XT_DTYPE_Q8_0 || t == XT_DTYPE_Q4_K;
}

// Every entry of gemm's nr x nc tiles (nr <= max_rows, nc <= max_tok; or only the full tile)
// against the reference vec_dot within 1e-6 * sum|w a|, and against `exact` bit for bit.
static void check_gemm_tiles(const char *what, int t, xt_gemm_fn gemm, xt_vec_dot_fn exact,
                             int64_t n_blocks, int max_rows, int max_tok, int only_full,
                             float *x, float *fw, float *fa) {
    const int at = g_ref[t].vec_dot_type;
    const int64_t n = block_size(t) * n_blocks;
    const size_t wb = row_bytes(t, n), ab = row_bytes(at, n);
    uint8_t *w = malloc(wb * G_BUF_ROWS), *a = malloc(ab * G_BUF_TOK);
    static float y[(G_BUF_ROWS + 2) * G_BUF_TOK];
    if (w == NULL || a == NULL) {
        check(0, "%s %s: out of memory", what, type_name(t));
        free(w);
        free(a);
        return;
    }
    for (int rep = 0; rep < 3; rep++) {
        int nw = 0;
        for (int r = 0; r < max_rows; r++) {
            while (!make_weights(t, (r + rep + nw) % W_COUNT, w + (size_t)r * wb, n, x)) nw++;
        }
        for (int c = 0; c < max_tok; c++) {
            make_act_floats((c + rep) % A_COUNT, x, n);
            ref_act(at)(x, a + (size_t)c * ab, n);
        }
        for (int nr = only_full ? max_rows : 1; nr <= max_rows; nr++) {
            for (int nc = only_full ? max_tok : 1; nc <= max_tok; nc++) {
                const int64_t ys = nr + 2;  // output rows wider than the tile
                gemm(n, w, wb, nr, a, ab, nc, y, ys);
                for (int c = 0; c < nc; c++) {
                    for (int r = 0; r < nr; r++) {
                        const uint8_t *wr = w + (size_t)r * wb, *ac = a + (size_t)c * ab;
                        float ref = g_ref[t].vec_dot(n, wr, ac);
                        float got = y[c * ys + r];
                        double mag = sum_abs_products(t, at, wr, ac, n, fw, fa);
                        double err = fabs((double)got - (double)ref);
                        int ok = isfinite(ref) ? (isfinite(got) && err <= 1e-6 * mag)
                                               : memcmp(&got, &ref, sizeof got) == 0;
                        check(ok,
                              "%s %s tile %dx%d entry (%d, %d) rep %d: simd %.9g ref %.9g "
                              "|diff| %.3g > 1e-6 * sum|w a| = %.3g",
                              what, type_name(t), nr, nc, r, c, rep, (double)got, (double)ref,
                              err, 1e-6 * mag);
                        if (exact == NULL) continue;
                        float want = exact(n, wr, ac);
                        check(memcmp(&got, &want, sizeof got) == 0,
                              "%s %s tile %dx%d entry (%d, %d) rep %d: %.9g, not the bits of "
                              "the avx2 dot product %.9g",
                              what, type_name(t), nr, nc, r, c, rep, (double)got, (double)want);
                    }
                }
            }
        }
    }
    free(w);
    free(a);
}

// gemm[t] (grouped = 0) or gemm_b4[t] (grouped = 1) of a level; `avx2`: the avx2 table, whose
// dot products the exact tiles reproduce.
static void check_gemm(const level *lv, const xt_quant_kernels *avx2, int t, int grouped,
                       float *x, float *fw, float *fa) {
    // own random stream: the other checks draw the same numbers whatever tiles a table has
    const uint64_t rng_saved = g_rng;
    g_rng = 0x2545F4914F6CDD1Dull ^ (uint64_t)(t * 2 + grouped);
    char what[64];
    snprintf(what, sizeof what, "%s %s", lv->name, grouped ? "gemm_b4" : "gemm");
    xt_gemm_fn gemm = grouped ? lv->k.gemm_b4[t] : lv->k.gemm[t];
    xt_vec_dot_fn exact = NULL;
    if (gemm_is_exact(t, grouped)) exact = grouped ? avx2->vec_dot_b4[t] : avx2->vec_dot[t];
    const int k_quant = block_size(t) == 256;
    check_gemm_tiles(what, t, gemm, exact, k_quant ? G_N_BLOCKS_256 : G_N_BLOCKS_32, G_MAX_ROWS,
                     G_MAX_TOK, 0, x, fw, fa);
    if (k_quant) {
        check_gemm_tiles(what, t, gemm, exact, G_LONG_BLOCKS_256, G_LONG_ROWS, G_LONG_TOK, 1, x,
                         fw, fa);
    }
    g_rng = rng_saved;
}

// ---- gemv (one-token row kernels) ----

static void check_gemv(const level *lv, int t, float *x) {
    const int at = g_ref[t].vec_dot_type;
    const int64_t blk = block_size(t);
    const int64_t n = blk * (blk == 32 ? G_N_BLOCKS_32 : G_N_BLOCKS_256);
    const size_t wb = row_bytes(t, n), ab = row_bytes(at, n);
    uint8_t *w = malloc(wb * G_MAX_ROWS), *a = malloc(ab);
    if (w == NULL || a == NULL) {
        check(0, "%s gemv %s: out of memory", lv->name, type_name(t));
        free(w);
        free(a);
        return;
    }
    for (int mode = 0; mode < A_COUNT; mode++) {
        int nw = 0;
        for (int r = 0; r < G_MAX_ROWS; r++) {
            while (!make_weights(t, (r + mode + nw) % W_COUNT, w + (size_t)r * wb, n, x)) nw++;
        }
        make_act_floats(mode, x, n);
        ref_act(at)(x, a, n);
        for (int nr = 1; nr <= G_MAX_ROWS; nr++) {
            float y[G_MAX_ROWS];
            lv->k.gemv[t](n, w, wb, nr, a, y);
            for (int r = 0; r < nr; r++) {
                float ref = lv->k.vec_dot[t](n, w + (size_t)r * wb, a);
                check(memcmp(&y[r], &ref, sizeof ref) == 0,
                      "%s gemv %s rows %d row %d act mode %d: %.9g, vec_dot %.9g", lv->name,
                      type_name(t), nr, r, mode, (double)y[r], (double)ref);
            }
        }
    }
    free(w);
    free(a);
}

// ---- quantize_act ----

enum { Q_GAUSS, Q_TIES, Q_NAN, Q_INF, Q_ZEROS, Q_TINY, Q_HUGE, Q_MIXED, Q_COUNT };
static const char *const k_qmode_names[Q_COUNT] = {"gauss", "ties",  "nan",  "inf",
                                                    "zeros", "tiny", "huge", "mixed-special"};

static void make_edge_row(int mode, float *x, int64_t n) {
    static const float specials[] = {0.0f,     -0.0f,   NAN,     -NAN,     INFINITY,
                                     -INFINITY, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f,
                                     0.5f,     -0.5f,   127.5f,  -126.5f,  65504.0f, 1e30f};
    for (int64_t i = 0; i < n; i++) {
        double g = gauss();
        switch (mode) {
        case Q_TIES:
            // amax 127 in each 32-block (d = 1, id = 1; Q8_K: iscale = -1): x * id is an
            // exact .5 tie wherever x is, so roundf and round-half-even must both match
            x[i] = (i % 32 == 0) ? 127.0f : (float)((double)(int)(g * 40.0) + 0.5);
            break;
        case Q_NAN: x[i] = (i % 41 == 7) ? NAN : (float)g; break;
        case Q_INF: x[i] = (i % 53 == 11) ? ((i & 1) ? -INFINITY : INFINITY) : (float)g; break;
        case Q_ZEROS: x[i] = (i % 3 == 0) ? -0.0f : 0.0f; break;
        case Q_TINY: x[i] = (float)(g * 1e-38); break;  // subnormal inputs, f16 d flushes
        case Q_HUGE: x[i] = (float)(g * 1e30); break;   // d overflows f16
        case Q_MIXED:
            x[i] = (rnd() % 4 == 0) ? specials[rnd() % (sizeof specials / sizeof specials[0])]
                                    : (float)g;
            break;
        default: x[i] = (float)(g * pow(10.0, (double)(rnd() % 7) - 3.0)); break;
        }
    }
}

static void check_quantize_act(const level *lv, int at, float *x, uint8_t *got, uint8_t *ref) {
    xt_quant_act_fn want = ref_act((xt_dtype)at);
    check(want != NULL, "%s quantize_act %s: no reference quantizer", lv->name, type_name(at));
    if (want == NULL) return;
    const int64_t blk = block_size(at);
    static const int64_t counts[] = {1, 2, 3, 5, 8, 16};
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        const int64_t n = counts[ci] * blk;
        if (n > MAX_N) continue;
        const size_t nbytes = row_bytes(at, n);
        for (int mode = 0; mode < Q_COUNT; mode++) {
            for (int rep = 0; rep < 4; rep++) {
                make_edge_row(mode, x, n);
                memset(got, 0xA5, nbytes);
                memset(ref, 0x5A, nbytes);
                want(x, ref, n);
                lv->k.quantize_act[at](x, got, n);
                size_t first = 0;
                while (first < nbytes && got[first] == ref[first]) first++;
                check(first == nbytes,
                      "%s quantize_act %s n=%lld rows=%s: bytes differ from byte %zu "
                      "(simd 0x%02x, ref 0x%02x)",
                      lv->name, type_name(at), (long long)n, k_qmode_names[mode], first,
                      first < nbytes ? got[first] : 0, first < nbytes ? ref[first] : 0);
            }
        }
    }
}

// ---- main ----

int main(void) {
    xt_quant_register_float(g_ref);
    xt_quant_register_q4_q5(g_ref);
    xt_quant_register_q8(g_ref);
    xt_quant_register_iq4_mxfp4(g_ref);
    xt_quant_register_k_low(g_ref);
    xt_quant_register_k_high(g_ref);

    static level levels[3] = {{"avx2", {0}}, {"avx512", {0}}, {"avx512-vnni", {0}}};
    xt_test_fill_avx2(&levels[0].k);
    xt_test_fill_avx512(&levels[1].k);
    xt_test_fill_avx512_vnni(&levels[2].k);
    for (int li = 0; li < 3; li++) {  // as quant_table.c
        xt_test_fill_avx2_gemm(&levels[li].k);
        xt_test_fill_avx2_gemm_k(&levels[li].k);
        xt_quant_kernels avx2 = levels[0].k;
        xt_test_fill_avx2_gemv(&avx2);
        for (int t = 0; t < XT_DTYPE_COUNT; t++) {
            if (levels[li].k.vec_dot[t] == avx2.vec_dot[t]) levels[li].k.gemv[t] = avx2.gemv[t];
        }
    }

    uint8_t *w = malloc(MAX_ROW_BYTES), *a = malloc(MAX_ROW_BYTES), *a2 = malloc(MAX_ROW_BYTES);
    float *x = malloc(MAX_N * sizeof(float));
    float *fw = malloc(MAX_N * sizeof(float)), *fa = malloc(MAX_N * sizeof(float));
    if (!w || !a || !a2 || !x || !fw || !fa) {
        printf("out of memory\n");
        return 2;
    }
    for (int li = 0; li < 3; li++) {
        const level *lv = &levels[li];
        int n_dots = 0, n_acts = 0, n_gemms = 0;
        long failed_before = g_failed;
        for (int t = 0; t < XT_DTYPE_COUNT; t++) {
            if (lv->k.vec_dot[t] != NULL) {
                check_vec_dot(lv, t, w, a, x, fw, fa);
                n_dots++;
            }
            for (int grouped = 0; grouped < 2; grouped++) {
                if ((grouped ? lv->k.gemm_b4[t] : lv->k.gemm[t]) == NULL) continue;
                check_gemm(lv, &levels[0].k, t, grouped, x, fw, fa);
                n_gemms++;
            }
            if (lv->k.quantize_act[t] != NULL) {
                check_quantize_act(lv, t, x, a, a2);
                n_acts++;
            }
        }
        check(n_dots > 0 && n_acts > 0, "%s: empty table (%d vec_dot, %d quantize_act)",
              lv->name, n_dots, n_acts);
        printf("%-12s %2d vec_dot types, %d gemm entries, %d quantize_act types: %s\n", lv->name,
               n_dots, n_gemms, n_acts, g_failed == failed_before ? "ok" : "FAILED");
    }
    // The gemv checks run last so the data the checks above draw stays as it was.
    for (int li = 0; li < 3; li++) {
        const level *lv = &levels[li];
        int n_gemvs = 0;
        long failed_before = g_failed;
        for (int t = 0; t < XT_DTYPE_COUNT; t++) {
            if (lv->k.gemv[t] != NULL) {
                check_gemv(lv, t, x);
                n_gemvs++;
            }
        }
        printf("%-12s %2d gemv types: %s\n", lv->name, n_gemvs,
               g_failed == failed_before ? "ok" : "FAILED");
    }
    free(w);
    free(a);
    free(a2);
    free(x);
    free(fw);
    free(fa);
    if (g_failed > MAX_PRINTED) printf("(%ld more failures not shown)\n", g_failed - MAX_PRINTED);
    printf("%ld passed, %ld failed\n", g_passed, g_failed);
    return g_failed != 0;
}
