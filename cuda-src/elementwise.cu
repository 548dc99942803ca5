// elementwise.cu: the pointwise tensor operations on the device (unary maps, binary arithmetic with
// broadcasting, comparisons, selection, fills, the in-place updates y += alpha x and y *= s, and dtype
// conversion / strided copy).
//
// The executable specification is the CPU's dev.moe4j.kernels.cpu.{UnaryOp, BinaryOp, CompareOp} and
// BinaryKernels, with the conversions of dev.moe4j.tensor.CpuStorage / HalfFloat. Every formula here is
// the CPU's, operation for operation:
//   - float storage (F32, BF16) computes in float; BF16 is widened exactly and rounded to nearest even
//     once on store, with the CPU's NaN rule (sign kept, quiet bit set), so a BF16 op equals the CPU's
//     "widen, compute in F32, round" exactly;
//   - integer storage (I32, I64, BOOL) computes in 64-bit two's complement, wrapping (I32 results are
//     the low 32 bits, BOOL results are value != 0), as the CPU's long[] kernels;
//   - EXP, LOG, TANH, GELU, GELU_TANH, SILU, SIGMOID and POW evaluate in double and round once to float
//     (UnaryOp.apply(float) / BinaryOp.apply(float, float)); NEG, ABS, SQRT, RSQRT, RELU and + - * /
//     are single IEEE float operations (sqrt and / correctly rounded: no fast-math flags);
//   - MAXIMUM / MINIMUM / RELU follow Java's Math.max / Math.min: NaN propagates, max(-0, +0) = +0;
//   - POW follows Math.pow where it differs from C's pow: pow(x, NaN) = NaN, pow(+-1, +-inf) = NaN;
//   - float -> integer conversion truncates toward zero, saturating, NaN -> 0 (Java's (long) cast,
//     then the low 32 bits for I32); integer -> float goes through double ((float) (double) v).
// The double-precision erfc / exp / tanh of the device library are within a few ulps of Java's, so
// after the single rounding to float the results agree with the CPU's scalar reference except when the
// exact value lies within those few double ulps of a float rounding boundary.
//
// Shapes and layout. Every kernel walks n elements of an output view, 0 <= n < 2^31, with up to three
// input operands. The host merges dims (drops size-1 dims, fuses dims that are contiguous in every
// operand) and passes a Layout by value:
//   rank          1..8 merged dims, dim rank-1 innermost
//   shape[d]      size of merged dim d
//   stride[k][d]  operand k's stride of dim d in elements (0 for a broadcast dim); operand 0 is the
//                 output, 1..3 the inputs in the kernel's argument order
//   vec           1 when every operand is dense over the n elements (merged to one dim of stride 1) and
//                 starts 16-byte aligned
// Pointers point at each view's element (0, ..., 0). Strides are >= 0 and every offset a view reaches
// fits in an int (storages hold < 2^31 elements), so offsets are 32-bit.
//
// Which thread does what. A 1-D grid-stride loop over the output:
//   vec = 0 (strided): thread t handles elements i = t, t + T, t + 2T, ... (T = threads in the grid);
//           it splits i into coordinates by the merged shape (innermost first) and forms each
//           operand's offset from its strides. Broadcast inputs (stride 0) and transposed or sliced
//           views are read in place, without copies.
//   vec = 1 (dense fast path): thread t handles packs p = t, t + T, ... of P consecutive elements,
//           P = 16 / (largest element size among the operands): 4 floats, 8 bf16, 2 int64, ...; the
//           widest operand moves as one 16-byte load or store, the narrower ones as one P-element
//           load or store. The n mod P tail elements go to threads 0 .. (n mod P) - 1.
// In-place kernels (axpy, scale) read and write the same element from the same thread. A null input
// pointer means "use the scalar argument" (binary with a scalar, masked fill).
//
// Op codes are the ordinals of the Java enums: UnaryOp {NEG, ABS, EXP, LOG, SQRT, RSQRT, RELU, GELU,
// GELU_TANH, SILU, SIGMOID, TANH}, BinaryOp {ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM}, CompareOp
// {EQ, NE, LT, LE, GT, GE}. Kernel names end in the storage types: f32, bf16, i32, i64, b8 (BOOL);
// the bit-exact copies in the element width: x8, x16, x32, x64.
#include "common.cuh"

#define EW_MAX_RANK 8
#define EW_OPERANDS 4

struct Layout {
    int rank;
    int vec;
    int shape[EW_MAX_RANK];
    int stride[EW_OPERANDS][EW_MAX_RANK];
};

typedef long long i64;
typedef unsigned long long u64;

// Storage types. bf16 and BOOL are wrapped so that overloads tell them apart from integers.
struct BF16 { uint16_t bits; };
struct B8 { uint8_t v; };

// The type each storage type computes in.
template <typename T> struct ComputeOf { typedef i64 type; };
template <> struct ComputeOf<float> { typedef float type; };
template <> struct ComputeOf<BF16> { typedef float type; };
template <typename T> using ct = typename ComputeOf<T>::type;

// ------------------------------------------------------------------------------------------------
// conversions (CpuStorage / HalfFloat semantics)
// ------------------------------------------------------------------------------------------------

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(BF16 v) { return __uint_as_float((unsigned)v.bits << 16); }
__device__ __forceinline__ i64 widen(int32_t v) { return v; }
__device__ __forceinline__ i64 widen(i64 v) { return v; }
__device__ __forceinline__ i64 widen(B8 v) { return v.v; }

// HalfFloat.floatToBf16: round to nearest, ties to even; NaN keeps its sign and gets the quiet bit.
__device__ __forceinline__ BF16 bf16_rne(float f) {
    unsigned x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return BF16{(uint16_t)((x >> 16) | 0x0040u)};
    unsigned lsb = (x >> 16) & 1u;
    return BF16{(uint16_t)((x + 0x7fffu + lsb) >> 16)};
}

// Java's (long) f: toward zero, saturating, NaN -> 0. PTX cvt.rzi saturates, but an H200 turned a NaN
// into INT64_MIN for the 64-bit target, so NaN is mapped to 0 here explicitly.
__device__ __forceinline__ i64 f2ll(float v) { return v != v ? 0 : __float2ll_rz(v); }
// Java's (float) (double) v: two correctly rounded steps, kept apart on purpose.
__device__ __forceinline__ float ll2f(i64 v) { return __double2float_rn(__ll2double_rn(v)); }

// To<D>::from(v): a float or int64 compute value stored as D.
template <typename D> struct To;
template <> struct To<float> {
    static __device__ __forceinline__ float from(float v) { return v; }
    static __device__ __forceinline__ float from(i64 v) { return ll2f(v); }
};
template <> struct To<BF16> {
    static __device__ __forceinline__ BF16 from(float v) { return bf16_rne(v); }
    static __device__ __forceinline__ BF16 from(i64 v) { return bf16_rne(ll2f(v)); }
};
template <> struct To<int32_t> {
    static __device__ __forceinline__ int32_t from(float v) { return (int32_t)(uint32_t)(u64)f2ll(v); }
    static __device__ __forceinline__ int32_t from(i64 v) { return (int32_t)(uint32_t)(u64)v; }
};
template <> struct To<i64> {
    static __device__ __forceinline__ i64 from(float v) { return f2ll(v); }
    static __device__ __forceinline__ i64 from(i64 v) { return v; }
};
// Raw carriers of the bit-exact copies: widened to int64 and truncated back, so every bit survives.
__device__ __forceinline__ i64 widen(uint8_t v) { return v; }
__device__ __forceinline__ i64 widen(uint16_t v) { return v; }
__device__ __forceinline__ i64 widen(uint32_t v) { return v; }
__device__ __forceinline__ i64 widen(u64 v) { return (i64)v; }
template <> struct To<uint8_t> { static __device__ __forceinline__ uint8_t from(i64 v) { return (uint8_t)v; } };
template <> struct To<uint16_t> { static __device__ __forceinline__ uint16_t from(i64 v) { return (uint16_t)v; } };
template <> struct To<uint32_t> { static __device__ __forceinline__ uint32_t from(i64 v) { return (uint32_t)v; } };
template <> struct To<u64> { static __device__ __forceinline__ u64 from(i64 v) { return (u64)v; } };
template <> struct To<B8> {
    static __device__ __forceinline__ B8 from(float v) { return B8{(uint8_t)(v != 0.0f)}; }
    static __device__ __forceinline__ B8 from(i64 v) { return B8{(uint8_t)(v != 0)}; }
};

// ------------------------------------------------------------------------------------------------
// the loop every kernel runs
// ------------------------------------------------------------------------------------------------

template <typename T, int P> struct alignas(sizeof(T) * P) Pack { T v[P]; };

__host__ __device__ constexpr int max_size(int a, int b) { return a > b ? a : b; }

// Offsets of element i (row-major over the merged shape) in the four operands.
__device__ __forceinline__ void offsets(const Layout &L, unsigned i, int o[EW_OPERANDS]) {
#pragma unroll
    for (int k = 0; k < EW_OPERANDS; k++) o[k] = 0;
#pragma unroll
    for (int d = EW_MAX_RANK - 1; d >= 0; d--) {
        if (d < L.rank) {
            unsigned s = (unsigned)L.shape[d];
            unsigned q = i / s, r = i - q * s;
            i = q;
#pragma unroll
            for (int k = 0; k < EW_OPERANDS; k++) o[k] += (int)r * L.stride[k][d];
        }
    }
}

template <typename T> __device__ __forceinline__ ct<T> ld(const T *p, int at, ct<T> scalar) {
    return p ? widen(p[at]) : scalar;
}

// out = f(a, b, c) over the layout; a null input stands for its scalar. f takes compute values and
// returns the output's storage value.
template <typename TO, typename TA, typename TB, typename TC, typename F>
__device__ __forceinline__ void ew_loop(const Layout &L, unsigned n, TO *out, const TA *a, ct<TA> sa,
                                        const TB *b, ct<TB> sb, const TC *c, ct<TC> sc, F f) {
    constexpr int P = 16 / max_size(max_size((int)sizeof(TO), (int)sizeof(TA)), max_size((int)sizeof(TB), (int)sizeof(TC)));
    unsigned tid = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
    if (L.vec) {
        unsigned packs = n / P;
        for (unsigned p = tid; p < packs; p += step) {
            Pack<TA, P> va{};
            Pack<TB, P> vb{};
            Pack<TC, P> vc{};
            Pack<TO, P> vo;
            if (a) va = reinterpret_cast<const Pack<TA, P> *>(a)[p];
            if (b) vb = reinterpret_cast<const Pack<TB, P> *>(b)[p];
            if (c) vc = reinterpret_cast<const Pack<TC, P> *>(c)[p];
#pragma unroll
            for (int k = 0; k < P; k++) {
                vo.v[k] = f(a ? widen(va.v[k]) : sa, b ? widen(vb.v[k]) : sb, c ? widen(vc.v[k]) : sc);
            }
            reinterpret_cast<Pack<TO, P> *>(out)[p] = vo;
        }
        for (unsigned i = packs * P + tid; i < n; i += step) out[i] = f(ld(a, i, sa), ld(b, i, sb), ld(c, i, sc));
    } else {
        for (unsigned i = tid; i < n; i += step) {
            int o[EW_OPERANDS];
            offsets(L, i, o);
            out[o[0]] = f(ld(a, o[1], sa), ld(b, o[2], sb), ld(c, o[3], sc));
        }
    }
}

#define NONE (static_cast<const B8 *>(nullptr))

// ------------------------------------------------------------------------------------------------
// the operations (UnaryOp / BinaryOp / CompareOp semantics)
// ------------------------------------------------------------------------------------------------

#define SQRT1_2 0.7071067811865476
#define SQRT_2_OVER_PI 0.7978845608028654
#define GELU_TANH_CUBIC 0.044715

// Java's Math.max / Math.min on floats: NaN propagates (the first NaN operand), max(-0, +0) = +0.
__device__ __forceinline__ float java_max(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f && signbit(a)) return b;
    return a >= b ? a : b;
}
__device__ __forceinline__ float java_min(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f && signbit(b)) return b;
    return a <= b ? a : b;
}

// Math.pow in double, rounded once; the two cases where Java and C disagree are Java's.
__device__ __forceinline__ float java_pow(float a, float b) {
    double x = a, y = b;
    double r;
    if (y != y) r = y;
    else if (fabs(x) == 1.0 && isinf(y)) r = __longlong_as_double(0x7ff8000000000000LL);
    else r = pow(x, y);
    return __double2float_rn(r);
}

// UnaryOp.apply(float). The double forms keep Java's operation order (no contraction into fma).
template <int OP> __device__ __forceinline__ float unary_f(float x) {
    if constexpr (OP == 0) return -x;
    else if constexpr (OP == 1) return fabsf(x);
    else if constexpr (OP == 4) return __fsqrt_rn(x);
    else if constexpr (OP == 5) return __fdiv_rn(1.0f, __fsqrt_rn(x));
    else if constexpr (OP == 6) return x != x ? x : (x > 0.0f ? x : 0.0f);
    else {
        double d = x, r;
        if constexpr (OP == 2) r = exp(d);
        else if constexpr (OP == 3) r = log(d);
        else if constexpr (OP == 7) r = __dmul_rn(__dmul_rn(0.5, d), erfc(__dmul_rn(-d, SQRT1_2)));   // x/2 erfc(-x/sqrt2)
        else if constexpr (OP == 8) {                                                                   // x / (1 + e^-2y)
            double inner = __dadd_rn(d, __dmul_rn(__dmul_rn(__dmul_rn(GELU_TANH_CUBIC, d), d), d));
            r = __ddiv_rn(d, __dadd_rn(1.0, exp(__dmul_rn(inner, -2.0 * SQRT_2_OVER_PI))));
        }
        else if constexpr (OP == 9) r = __ddiv_rn(d, __dadd_rn(1.0, exp(-d)));                        // silu
        else if constexpr (OP == 10) r = __ddiv_rn(1.0, __dadd_rn(1.0, exp(-d)));                      // sigmoid
        else r = tanh(d);
        return __double2float_rn(r);
    }
}

// UnaryOp.apply(long): NEG, ABS, RELU, wrapping (|MIN| = MIN).
template <int OP> __device__ __forceinline__ i64 unary_i(i64 x) {
    if constexpr (OP == 0) return (i64)(0ull - (u64)x);
    else if constexpr (OP == 1) return x < 0 ? (i64)(0ull - (u64)x) : x;
    else return x > 0 ? x : 0;
}

template <int OP> __device__ __forceinline__ float binary_f(float a, float b) {
    if constexpr (OP == 0) return __fadd_rn(a, b);
    else if constexpr (OP == 1) return __fsub_rn(a, b);
    else if constexpr (OP == 2) return __fmul_rn(a, b);
    else if constexpr (OP == 3) return __fdiv_rn(a, b);
    else if constexpr (OP == 4) return java_pow(a, b);
    else if constexpr (OP == 5) return java_max(a, b);
    else return java_min(a, b);
}

// BinaryOp.integerPower: binary exponentiation, wrapping; the host rejects negative exponents.
__device__ __forceinline__ i64 int_pow(i64 a, i64 e) {
    u64 result = 1, base = (u64)a, k = (u64)e;
    while (k != 0) {
        if (k & 1) result *= base;
        base *= base;
        k >>= 1;
    }
    return (i64)result;
}

template <int OP> __device__ __forceinline__ i64 binary_i(i64 a, i64 b) {
    if constexpr (OP == 0) return (i64)((u64)a + (u64)b);
    else if constexpr (OP == 1) return (i64)((u64)a - (u64)b);
    else if constexpr (OP == 2) return (i64)((u64)a * (u64)b);
    else if constexpr (OP == 4) return int_pow(a, b);
    else if constexpr (OP == 5) return a > b ? a : b;
    else if constexpr (OP == 6) return a < b ? a : b;
    else return 0;                                   // DIV is true division: never an integer kernel
}

template <int OP, typename C> __device__ __forceinline__ bool compare(C a, C b) {
    if constexpr (OP == 0) return a == b;
    else if constexpr (OP == 1) return a != b;
    else if constexpr (OP == 2) return a < b;
    else if constexpr (OP == 3) return a <= b;
    else if constexpr (OP == 4) return a > b;
    else return a >= b;
}

// ------------------------------------------------------------------------------------------------
// kernel bodies
// ------------------------------------------------------------------------------------------------

template <int OP, typename T>
__device__ __forceinline__ void unary_float_op(const Layout &L, unsigned n, const T *x, T *out) {
    ew_loop(L, n, out, x, 0.0f, NONE, 0, NONE, 0, [](float v, i64, i64) { return To<T>::from(unary_f<OP>(v)); });
}

template <typename T> __device__ void unary_float(const Layout &L, unsigned n, int op, const T *x, T *out) {
    switch (op) {
        case 0: unary_float_op<0>(L, n, x, out); break;
        case 1: unary_float_op<1>(L, n, x, out); break;
        case 2: unary_float_op<2>(L, n, x, out); break;
        case 3: unary_float_op<3>(L, n, x, out); break;
        case 4: unary_float_op<4>(L, n, x, out); break;
        case 5: unary_float_op<5>(L, n, x, out); break;
        case 6: unary_float_op<6>(L, n, x, out); break;
        case 7: unary_float_op<7>(L, n, x, out); break;
        case 8: unary_float_op<8>(L, n, x, out); break;
        case 9: unary_float_op<9>(L, n, x, out); break;
        case 10: unary_float_op<10>(L, n, x, out); break;
        default: unary_float_op<11>(L, n, x, out); break;
    }
}

template <int OP, typename T>
__device__ __forceinline__ void unary_int_op(const Layout &L, unsigned n, const T *x, T *out) {
    ew_loop(L, n, out, x, (i64)0, NONE, 0, NONE, 0, [](i64 v, i64, i64) { return To<T>::from(unary_i<OP>(v)); });
}

template <typename T> __device__ void unary_int(const Layout &L, unsigned n, int op, const T *x, T *out) {
    switch (op) {
        case 0: unary_int_op<0>(L, n, x, out); break;
        case 1: unary_int_op<1>(L, n, x, out); break;
        default: unary_int_op<6>(L, n, x, out); break;
    }
}

template <int OP, typename T>
__device__ __forceinline__ void binary_op(const Layout &L, unsigned n, const T *a, const T *b, ct<T> s, T *out) {
    ew_loop(L, n, out, a, ct<T>(0), b, s, NONE, 0, [](ct<T> x, ct<T> y, i64) {
        if constexpr (sizeof(ct<T>) == 4) return To<T>::from(binary_f<OP>(x, y));
        else return To<T>::from(binary_i<OP>(x, y));
    });
}

template <typename T> __device__ void binary(const Layout &L, unsigned n, int op, const T *a, const T *b, ct<T> s, T *out) {
    switch (op) {
        case 0: binary_op<0>(L, n, a, b, s, out); break;
        case 1: binary_op<1>(L, n, a, b, s, out); break;
        case 2: binary_op<2>(L, n, a, b, s, out); break;
        case 3: binary_op<3>(L, n, a, b, s, out); break;
        case 4: binary_op<4>(L, n, a, b, s, out); break;
        case 5: binary_op<5>(L, n, a, b, s, out); break;
        default: binary_op<6>(L, n, a, b, s, out); break;
    }
}

template <int OP, typename T>
__device__ __forceinline__ void compare_op(const Layout &L, unsigned n, const T *a, const T *b, B8 *out) {
    ew_loop(L, n, out, a, ct<T>(0), b, ct<T>(0), NONE, 0,
            [](ct<T> x, ct<T> y, i64) { return B8{(uint8_t)compare<OP>(x, y)}; });
}

template <typename T> __device__ void compare_all(const Layout &L, unsigned n, int op, const T *a, const T *b, B8 *out) {
    switch (op) {
        case 0: compare_op<0>(L, n, a, b, out); break;
        case 1: compare_op<1>(L, n, a, b, out); break;
        case 2: compare_op<2>(L, n, a, b, out); break;
        case 3: compare_op<3>(L, n, a, b, out); break;
        case 4: compare_op<4>(L, n, a, b, out); break;
        default: compare_op<5>(L, n, a, b, out); break;
    }
}

// ------------------------------------------------------------------------------------------------
// entry points
// ------------------------------------------------------------------------------------------------

// out = op(x), float ops on float storage; int ops (NEG, ABS, RELU) on integer storage.
#define EW_UNARY(SUF, T, BODY)                                                                                     \
    extern "C" __global__ void ew_unary_##SUF(Layout L, unsigned n, int op, const T *x, T *out) {                  \
        BODY<T>(L, n, op, x, out);                                                                                 \
    }
EW_UNARY(f32, float, unary_float)
EW_UNARY(bf16, BF16, unary_float)
EW_UNARY(i32, int32_t, unary_int)
EW_UNARY(i64, i64, unary_int)

// out = op(a, b), or op(a, s) when b is null; a, b, out of one storage type.
#define EW_BINARY(SUF, T)                                                                                          \
    extern "C" __global__ void ew_binary_##SUF(Layout L, unsigned n, int op, const T *a, const T *b, ct<T> s,      \
                                               T *out) {                                                           \
        binary<T>(L, n, op, a, b, s, out);                                                                         \
    }
EW_BINARY(f32, float)
EW_BINARY(bf16, BF16)
EW_BINARY(i32, int32_t)
EW_BINARY(i64, i64)

// out (BOOL) = a op b.
#define EW_COMPARE(SUF, T)                                                                                         \
    extern "C" __global__ void ew_compare_##SUF(Layout L, unsigned n, int op, const T *a, const T *b, B8 *out) {   \
        compare_all<T>(L, n, op, a, b, out);                                                                       \
    }
EW_COMPARE(f32, float)
EW_COMPARE(bf16, BF16)
EW_COMPARE(i32, int32_t)
EW_COMPARE(i64, i64)

// out = cond ? a : b, where a null a stands for the scalar sa (masked fill: where(mask, value, x)).
#define EW_WHERE(SUF, T)                                                                                           \
    extern "C" __global__ void ew_where_##SUF(Layout L, unsigned n, const B8 *cond, const T *a, ct<T> sa,          \
                                              const T *b, T *out) {                                                \
        ew_loop(L, n, out, cond, (i64)0, a, sa, b, ct<T>(0),                                                       \
                [](i64 c, ct<T> x, ct<T> y) { return To<T>::from(c != 0 ? x : y); });                              \
    }
EW_WHERE(f32, float)
EW_WHERE(bf16, BF16)
EW_WHERE(i32, int32_t)
EW_WHERE(i64, i64)
EW_WHERE(b8, B8)

// out[...] = value (value already in the compute type: float, or int64 for integer storage).
#define EW_FILL(SUF, T)                                                                                            \
    extern "C" __global__ void ew_fill_##SUF(Layout L, unsigned n, ct<T> value, T *out) {                          \
        ew_loop(L, n, out, NONE, (i64)0, NONE, (i64)0, NONE, (i64)0,                                               \
                [value](i64, i64, i64) { return To<T>::from(value); });                                            \
    }
EW_FILL(f32, float)
EW_FILL(bf16, BF16)
EW_FILL(i32, int32_t)
EW_FILL(i64, i64)
EW_FILL(b8, B8)

// y += alpha * x in place (operand 0 and 1 are y, operand 2 is x): fma in float, wrapping in int64.
template <typename TY, typename TX>
__device__ __forceinline__ void axpy(const Layout &L, unsigned n, ct<TY> alpha, const TX *x, TY *y) {
    ew_loop(L, n, y, (const TY *)y, ct<TY>(0), x, ct<TX>(0), NONE, 0, [alpha](ct<TY> yv, ct<TX> xv, i64) {
        if constexpr (sizeof(ct<TY>) == 4) return To<TY>::from(__fmaf_rn(alpha, xv, yv));
        else return To<TY>::from((i64)((u64)yv + (u64)alpha * (u64)xv));
    });
}
#define EW_AXPY(SUF, TY, TX)                                                                                       \
    extern "C" __global__ void ew_axpy_##SUF(Layout L, unsigned n, ct<TY> alpha, const TX *x, TY *y) {             \
        axpy<TY, TX>(L, n, alpha, x, y);                                                                           \
    }
EW_AXPY(f32_f32, float, float)
EW_AXPY(bf16_bf16, BF16, BF16)
EW_AXPY(bf16_f32, BF16, float)
EW_AXPY(i32_i32, int32_t, int32_t)
EW_AXPY(i32_i64, int32_t, i64)
EW_AXPY(i64_i64, i64, i64)

// y *= s in place (operands 0 and 1 are y).
#define EW_SCALE(SUF, T)                                                                                           \
    extern "C" __global__ void ew_scale_##SUF(Layout L, unsigned n, ct<T> s, T *y) {                               \
        ew_loop(L, n, y, (const T *)y, ct<T>(0), NONE, (i64)0, NONE, (i64)0, [s](ct<T> v, i64, i64) {              \
            if constexpr (sizeof(ct<T>) == 4) return To<T>::from(__fmul_rn(v, s));                                 \
            else return To<T>::from((i64)((u64)v * (u64)s));                                                       \
        });                                                                                                        \
    }
EW_SCALE(f32, float)
EW_SCALE(bf16, BF16)
EW_SCALE(i32, int32_t)
EW_SCALE(i64, i64)

// dst = src converted (Tensor.to(DType) semantics); with equal types, a strided copy.
#define EW_CAST(SS, S, DS, D)                                                                                      \
    extern "C" __global__ void ew_cast_##SS##_##DS(Layout L, unsigned n, const S *src, D *dst) {                  \
        ew_loop(L, n, dst, src, ct<S>(0), NONE, (i64)0, NONE, (i64)0, [](ct<S> v, i64, i64) { return To<D>::from(v); }); \
    }
#define EW_CAST_FROM(SS, S)                                                                                        \
    EW_CAST(SS, S, f32, float)                                                                                     \
    EW_CAST(SS, S, bf16, BF16)                                                                                     \
    EW_CAST(SS, S, i32, int32_t)                                                                                   \
    EW_CAST(SS, S, i64, i64)                                                                                       \
    EW_CAST(SS, S, b8, B8)
EW_CAST_FROM(f32, float)
EW_CAST_FROM(bf16, BF16)
EW_CAST_FROM(i32, int32_t)
EW_CAST_FROM(i64, i64)
EW_CAST_FROM(b8, B8)

// dst = src bit for bit, for any dtype of 1, 2, 4 or 8 bytes (contiguous(), copyFrom of equal types).
#define EW_COPY(BITS, T)                                                                                           \
    extern "C" __global__ void ew_copy_x##BITS(Layout L, unsigned n, const T *src, T *dst) {                       \
        ew_loop(L, n, dst, src, (i64)0, NONE, (i64)0, NONE, (i64)0, [](i64 v, i64, i64) { return To<T>::from(v); }); \
    }
EW_COPY(8, uint8_t)
EW_COPY(16, uint16_t)
EW_COPY(32, uint32_t)
EW_COPY(64, u64)
