package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class StepsTest {
    static Stream<Arguments> boundedSteps() {
        return Stream.of(
                Arguments.of(Steps.range(0, 3), List.of(0, 1, 2)),
                Arguments.of(Steps.range(2, 2), List.of()),
                Arguments.of(Steps.of(4, 1, 4), List.of(1, 4)),
                Arguments.of(Steps.at(3), List.of(3)));
    }

    @ParameterizedTest
    @MethodSource("boundedSteps")
    void stepAt_visitsTheSteps_inIncreasingOrder(Steps steps, List<Integer> expected) {
        List<Integer> visited = new ArrayList<>();
        for (int index = 0; ; index++) {
            OptionalInt step = steps.stepAt(index);
            if (step.isEmpty()) {
                break;
            }
            visited.add(step.getAsInt());
        }

        assertEquals(expected, visited);
        assertFalse(steps.isUnbounded());
    }

    @Test
    void allAndFrom_areUnbounded() {
        assertTrue(Steps.all().isUnbounded());
        assertEquals(1_000_000, Steps.all().stepAt(1_000_000).getAsInt());
        assertEquals(7, Steps.from(5).stepAt(2).getAsInt());
    }

    @Test
    void negativeOrBackwardSteps_areRejected() {
        assertThrows(IllegalArgumentException.class, () -> Steps.range(3, 1));
        assertThrows(IllegalArgumentException.class, () -> Steps.from(-1));
        assertThrows(IllegalArgumentException.class, () -> Steps.of(-2, 1));
    }

    @Test
    void toString_showsTheSpecification() {
        assertEquals("Steps.range(1, 4)", Steps.range(1, 4).toString());
        assertEquals("Steps.of(0, 2)", Steps.of(2, 0).toString());
        assertEquals("Steps.from(0)", Steps.all().toString());
    }
}
