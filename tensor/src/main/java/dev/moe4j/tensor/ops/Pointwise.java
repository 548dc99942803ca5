package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.Tensor;

/** Elementwise operations with broadcasting. (Skeleton: filled in by the pointwise kernels work.) */
public final class Pointwise {
    private Pointwise() {}

    /** Binary arithmetic ops. */
    public enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM }

    /** Comparisons (result BOOL). */
    public enum Compare { EQ, NE, LT, LE, GT, GE }

    /** Unary ops. */
    public enum Unary { NEG, ABS, EXP, LOG, SQRT, RSQRT, RELU, GELU, GELU_TANH, SILU, SIGMOID, TANH }

    public static Tensor binary(Binary op, Tensor a, Tensor b) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor binaryScalar(Binary op, Tensor a, double s) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor compare(Compare op, Tensor a, Tensor b) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor unary(Unary op, Tensor a) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor maskedFill(Tensor a, Tensor mask, double value) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor addInPlace(Tensor self, Tensor other, double alpha) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor mulInPlace(Tensor self, double s) { throw new UnsupportedOperationException("TODO"); }
}
