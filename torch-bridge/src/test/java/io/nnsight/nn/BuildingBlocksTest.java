package io.nnsight.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LayerNormOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The bridge's modules compute what libtorch's own modules and the textbook formulas compute. */
class BuildingBlocksTest {
    private final Tensor x = torch.randn(3, 8);

    private static boolean close(Tensor expected, Tensor actual) {
        return torch.allclose(expected, actual, 1e-5, 1e-6, false);
    }

    @Test
    void linear_matchesLibtorchsLinear_withTheSameWeights() {
        Linear linear = new Linear(8, 4);
        LinearImpl reference = new LinearImpl(8, 4);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            reference.weight().copy_(linear.weight());
            reference.bias().copy_(linear.bias());
        }

        assertTrue(close(reference.forward(x), linear.forward(x)));
        assertEquals(List.of("weight", "bias"), parameterNames(linear));
    }

    @Test
    void linear_initialisesWithinPyTorchsBound() {
        Linear linear = new Linear(100, 50);
        double bound = 1 / Math.sqrt(100);

        assertTrue(linear.weight().abs().max().item_double() <= bound);
        assertTrue(linear.weight().abs().max().item_double() > bound / 2);
        assertEquals(0, new Linear(4, 2, false).bias() == null ? 0 : 1);
    }

    @Test
    void embedding_looksUpRows() {
        Embedding embedding = new Embedding(10, 4);
        EmbeddingImpl reference = new EmbeddingImpl(10, 4);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            reference.weight().copy_(embedding.weight());
        }
        Tensor ids = torch.tensor(new long[] {3, 0, 9}).reshape(1, 3);

        assertTrue(close(reference.forward(ids), embedding.forward(ids)));
        assertTrue(close(embedding.weight().select(0, 9), embedding.forward(ids).select(1, 2).select(0, 0)));
    }

    @Test
    void layerNorm_matchesLibtorchsLayerNorm() {
        LayerNorm norm = new LayerNorm(8);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            norm.weight().copy_(torch.randn(8));
            norm.bias().copy_(torch.randn(8));
        }
        LongVector shape = new LongVector(1);
        shape.put(0, 8);
        LayerNormImpl reference = new LayerNormImpl(new LayerNormOptions(shape));
        try (NoGradGuard noGrad = new NoGradGuard()) {
            reference.weight().copy_(norm.weight());
            reference.bias().copy_(norm.bias());
        }

        assertTrue(close(reference.forward(x), norm.forward(x)));
    }

    @Test
    void rmsNorm_isXOverItsRootMeanSquare_timesTheWeight() {
        RMSNorm norm = new RMSNorm(8, 1e-6);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            norm.weight().copy_(torch.randn(8));
        }
        long[] lastDim = {-1};
        Tensor meanSquare = x.pow(new Scalar(2)).mean(lastDim, true, new org.bytedeco.pytorch.ScalarTypeOptional());
        Tensor expected = x.mul(torch.rsqrt(meanSquare.add(new Scalar(1e-6)))).mul(norm.weight());

        assertTrue(close(expected, norm.forward(x)));
    }

    @Test
    void activations_matchTheirFormulas() {
        assertTrue(close(torch.clamp_min(x, new Scalar(0)), new ReLU().forward(x)));
        assertTrue(close(x.mul(torch.sigmoid(x)), new SiLU().forward(x)));
        assertTrue(close(torch.tanh(x), new Tanh().forward(x)));
        Tensor cube = x.pow(new Scalar(3)).mul(new Scalar(0.044715));
        Tensor tanhGelu = x.mul(new Scalar(0.5)).mul(torch.tanh(x.add(cube).mul(new Scalar(Math.sqrt(2 / Math.PI))))
                .add(new Scalar(1)));
        assertTrue(close(tanhGelu, new GELU(true).forward(x)));
        Tensor exactGelu = x.mul(new Scalar(0.5)).mul(torch.erf(x.div(new Scalar(Math.sqrt(2)))).add(new Scalar(1)));
        assertTrue(close(exactGelu, new GELU().forward(x)));
    }

    @Test
    void dropout_dropsInTraining_andIsTheIdentityInEval() {
        Dropout dropout = new Dropout(0.5);
        Tensor ones = torch.ones(1000);

        Tensor trained = dropout.forward(ones);
        long zeros = trained.eq(new Scalar(0)).sum().item_long();
        assertTrue(zeros > 350 && zeros < 650, "dropped " + zeros + " of 1000");
        assertTrue(close(torch.full(new long[] {1}, new Scalar(2.0)), trained.max().reshape(1)));

        dropout.eval();
        assertTrue(close(ones, dropout.forward(ones)));
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1.5));
    }

    @Test
    void sequential_chainsItsChildren_andListsThemByName() {
        Linear first = new Linear(8, 6);
        Linear second = new Linear(6, 2);
        Sequential numbered = new Sequential(first, new ReLU(), second);

        assertTrue(close(second.forward(torch.relu(first.forward(x))), numbered.forward(x)));
        assertEquals(List.of("0", "1", "2"), List.copyOf(numbered.namedChildren().keySet()));
        assertThrows(IllegalArgumentException.class, () -> new Sequential().add("list", new ModuleList<>(List.of())));
    }

    @Test
    void registeredChildren_shareParametersWithLibtorch() {
        Mlp mlp = new Mlp(4, 2, 3);

        assertEquals(List.of("layers.0.0.weight", "layers.0.0.bias", "layers.1.0.weight", "layers.1.0.bias",
                "head.weight", "head.bias"), parameterNames(mlp));
        try (NoGradGuard noGrad = new NoGradGuard()) {
            mlp.named_parameters().get(4).value().fill_(new Scalar(0));
        }
        assertEquals(0.0, mlp.head().weight().abs().sum().item_double());
        assertThrows(IllegalArgumentException.class, () -> new Sequential().add("a", new ReLU()).add("a", new ReLU()));
    }

    private static List<String> parameterNames(org.bytedeco.pytorch.Module module) {
        var parameters = module.named_parameters();
        java.util.ArrayList<String> names = new java.util.ArrayList<>();
        for (long i = 0; i < parameters.size(); i++) {
            names.add(parameters.get(i).key().getString());
        }
        return names;
    }
}
