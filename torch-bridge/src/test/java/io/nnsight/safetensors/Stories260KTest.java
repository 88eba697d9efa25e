package io.nnsight.safetensors;

import io.nnsight.ScopePerTest;
import io.nnsight.lm.Shared;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Reads the real stories260K checkpoint (a tiny Llama) in {@code ../shared/models}. */
@ExtendWith(ScopePerTest.class)
class Stories260KTest {
    private static final Path MODEL = Shared.path("models/stories260K");
    private static final Path FILE = MODEL.resolve("model.safetensors");
    private static final String EMBEDDING = "model.embed_tokens.weight";

    @Test
    void open_listsEveryTensorAndTheMetadata() throws IOException {
        try (SafeTensors file = SafeTensors.open(FILE)) {
            assertEquals(47, file.names().size());
            assertEquals(EMBEDDING, file.names().iterator().next());
            assertEquals(Map.of("format", "pt"), file.metadata());
            TensorInfo embedding = file.info(EMBEDDING);
            assertEquals(DType.F32, embedding.dtype());
            assertArrayEquals(new long[] {512, 64}, embedding.shape());
        }
    }

    @Test
    void tensor_embeddingMatchesBytesDecodedIndependently() throws IOException {
        float[] expected = firstFloatsOf(EMBEDDING, 256);
        try (SafeTensors file = SafeTensors.open(FILE)) {
            Tensor embedding = file.tensor(EMBEDDING);
            assertEquals(ScalarType.Float.value, embedding.scalar_type().value);
            FloatPointer values = new FloatPointer(embedding.data_ptr());
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], values.get(i), "element " + i);
            }
        }
    }

    @Test
    void copyInto_everyTensorLoadsIntoParametersOfTheSameShape() throws IOException {
        try (Weights weights = Weights.open(MODEL)) {
            assertEquals(47, weights.names().size());
            for (String name : weights.names()) {
                Tensor parameter = torch.zeros(weights.info(name).shape(), new TensorOptions(ScalarType.Float));
                parameter.requires_grad_(true);
                weights.copyInto(name, parameter);
                assertTrue(torch.equal(weights.tensor(name), parameter.detach()), name);
            }
        }
    }

    /** Decodes the first {@code count} float32 values of a tensor with plain java.nio and Gson. */
    private static float[] firstFloatsOf(String name, int count) throws IOException {
        try (FileChannel channel = FileChannel.open(FILE)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(length, 0);
            int headerLength = (int) length.getLong(0);
            ByteBuffer header = ByteBuffer.allocate(headerLength);
            channel.read(header, 8);
            JsonObject entry = JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8))
                    .getAsJsonObject()
                    .getAsJsonObject(name);
            long begin = entry.getAsJsonArray("data_offsets").get(0).getAsLong();
            ByteBuffer data = ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(data, 8 + headerLength + begin);
            data.flip();
            float[] values = new float[count];
            data.asFloatBuffer().get(values);
            return values;
        }
    }
}
