package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class InputsTest {
    private final Tensor ids = torch.zeros(2, 3);
    private final Tensor mask = torch.ones(2, 3);

    @Test
    void of_keepsPositionalArgumentsInOrder_andAllowsNull() {
        Inputs inputs = Inputs.of(ids, null, 3);

        assertEquals(3, inputs.size());
        assertSame(ids, inputs.tensor(0));
        assertNull(inputs.get(1));
        assertEquals(3, inputs.get(2));
    }

    @Test
    void with_addsNamedArguments_withoutChangingTheOriginal() {
        Inputs plain = Inputs.of(ids);
        Inputs named = plain.with("attention_mask", mask);

        assertTrue(plain.named().isEmpty());
        assertSame(mask, named.tensor("attention_mask"));
        assertNull(named.tensor("position_ids"));
    }

    @Test
    void first_isThePositionalOne_elseTheFirstNamed() {
        assertSame(ids, Inputs.of(ids).with("attention_mask", mask).first());
        assertSame(mask, Inputs.of(List.of(), Map.of("attention_mask", mask)).first());
        assertThrows(NoSuchElementException.class, () -> Inputs.of().first());
    }

    @Test
    void withFirst_replacesWhatFirstReturns() {
        assertSame(mask, Inputs.of(ids, 1).withFirst(mask).get(0));
        assertSame(ids, Inputs.of(List.of(), Map.of("x", mask)).withFirst(ids).get("x"));
    }

    @Test
    void tensor_ofAnotherType_namesTheType() {
        ClassCastException error = assertThrows(ClassCastException.class, () -> Inputs.of("text").tensor(0));

        assertTrue(error.getMessage().contains("String"), error.getMessage());
    }

    @Test
    void get_outOfRange_saysHowManyThereAre() {
        IndexOutOfBoundsException error = assertThrows(IndexOutOfBoundsException.class, () -> Inputs.of(ids).get(2));

        assertTrue(error.getMessage().contains("1 positional"), error.getMessage());
    }

    @Test
    void toString_describesTensorsByShape() {
        assertEquals("Inputs(Tensor[2, 3] Float, attention_mask=Tensor[2, 3] Float)",
                Inputs.of(ids).with("attention_mask", mask).toString());
    }
}
