package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class TensorsTest {
    private static Tensor vector(float... values) {
        Tensor tensor = torch.empty(values.length);
        for (int i = 0; i < values.length; i++) {
            tensor.select(0, i).fill_(new Scalar(values[i]));
        }
        return tensor;
    }

    private static Tensor matrix() {
        return torch.arange(new Scalar(6)).reshape(2, 3); // [[0, 1, 2], [3, 4, 5]], Long
    }

    @Test
    void shape_isTheSizesOfEachDimension() {
        assertArrayEquals(new long[] {2, 3}, Tensors.shape(matrix()));
        assertArrayEquals(new long[0], Tensors.shape(torch.ones(new long[0])));
    }

    @Test
    void longsFloatsDoubles_readEveryElementInRowMajorOrder_ofAnyTypeAndLayout() {
        Tensor transposed = matrix().t(); // a view whose memory is not in its logical order

        assertArrayEquals(new long[] {0, 3, 1, 4, 2, 5}, Tensors.longs(transposed));
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, Tensors.floats(transposed));
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, Tensors.doubles(matrix()));
        assertArrayEquals(new long[] {1, -1}, Tensors.longs(vector(1.7f, -1.7f)));
    }

    @Test
    void longs_areCopiesThatOutliveTheTensor() {
        Tensor tensor = matrix();
        long[] values = Tensors.longs(tensor);
        tensor.close();

        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5}, values);
        FreedTensorException freed = assertThrows(FreedTensorException.class, () -> Tensors.longs(tensor));
        assertTrue(freed.getMessage().startsWith("the tensor was freed: a trace frees the tensors it made"), freed.getMessage());
        assertThrows(FreedTensorException.class, () -> Tensors.shape(tensor));
    }

    @Test
    void topK_givesTheLargestFirst_withTheirPositions() {
        Tensor scores = vector(0.5f, 2f, -1f, 3f);

        Tensors.TopK top = Tensors.topK(scores, 2);

        assertEquals(2, top.size());
        assertArrayEquals(new long[] {3, 1}, top.indices());
        assertArrayEquals(new double[] {3, 2}, top.values());
        assertEquals(3, top.index(0));
        assertEquals(2.0, top.value(1));
        assertEquals("TopK[3=3.0, 1=2.0]", top.toString());
        assertEquals(new Tensors.TopK(new long[] {3, 1}, new double[] {3, 2}), top);
    }

    @Test
    void topK_ofAMatrixOrTooMany_saysWhatToDo() {
        IllegalArgumentException matrix = assertThrows(IllegalArgumentException.class, () -> Tensors.topK(matrix(), 1));
        assertTrue(matrix.getMessage().startsWith("topK takes a vector, not Tensor[2, 3] Long: select a row first"),
                matrix.getMessage());
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> Tensors.topK(torch.ones(3), 4));
        assertEquals("k must be between 1 and the vector's length 3: 4", tooMany.getMessage());
    }

    @Test
    void describe_namesShapeAndType_neverContents() {
        assertEquals("Tensor[2, 3] Long", Tensors.describe(matrix()));
        assertEquals("null", Tensors.describe(null));
        assertEquals("List(2)", Tensors.describe(List.of(1, 2)));
        assertEquals("Set(1)", Tensors.describe(Set.of(1)));
        assertEquals("Map(1)", Tensors.describe(Map.of("a", 1)));
        assertEquals("String", Tensors.describe("secret"));
    }
}
