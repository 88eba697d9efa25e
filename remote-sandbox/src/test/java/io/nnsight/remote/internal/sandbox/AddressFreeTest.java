package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Shipped code never sees a native object's address, however it turns one into text or a hash code. */
class AddressFreeTest {
    /** Shipped code that turns a native object into text every way Java offers, and hashes it. */
    static final class Describes implements Function<Scalar, List<List<Object>>> {
        record Holder(Scalar scalar) {}

        @Override
        public List<List<Object>> apply(Scalar scalar) {
            Object object = scalar;
            List<Object> texts = new ArrayList<>();
            texts.add(scalar.toString());
            texts.add(object.toString());
            texts.add("scalar " + scalar);
            texts.add(String.valueOf(scalar));
            texts.add(Objects.toString(scalar));
            texts.add(Objects.toString(scalar, "none"));
            texts.add(List.of(scalar).toString());
            texts.add(Map.of("key", scalar).toString());
            texts.add(Optional.of(scalar).toString());
            texts.add(Arrays.toString(new Object[] {scalar}));
            texts.add(String.format("%s", scalar));
            texts.add("%s".formatted(scalar));
            texts.add(new StringBuilder().append(object).toString());
            texts.add(new Holder(scalar).toString());
            texts.add(Stream.of(scalar).map(Object::toString).collect(Collectors.joining()));
            texts.add(Stream.of(scalar).map(String::valueOf).collect(Collectors.joining()));
            List<Object> hashes = new ArrayList<>();
            hashes.add(scalar.hashCode());
            hashes.add(object.hashCode());
            hashes.add(Objects.hashCode(scalar));
            hashes.add(Objects.hash(scalar) - 31);
            hashes.add(List.of(scalar).hashCode() - 31);
            hashes.add(Set.of(scalar).hashCode());
            hashes.add(new Holder(scalar).hashCode());
            hashes.add(Stream.of(scalar).map(Object::hashCode).findFirst().orElseThrow());
            return List.of(texts, hashes);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<List<Object>> describe(Class<?> describes, Scalar scalar) throws ReflectiveOperationException {
        var constructor = describes.getDeclaredConstructor();
        constructor.setAccessible(true);
        return ((Function<Scalar, List<List<Object>>>) constructor.newInstance()).apply(scalar);
    }

    @Test
    void shippedCode_nativeObjectAsTextOrHashCode_neverShowsItsAddress() throws Exception {
        Scalar scalar = new Scalar(1.0);
        String address = Long.toHexString(scalar.address());
        JobClassLoader loader = new JobClassLoader(Sandbox.server().prepare(ClassFiles.of(Describes.class)).classes(),
                getClass().getClassLoader());

        List<List<Object>> compiled = describe(Describes.class, scalar);
        List<List<Object>> shipped = describe(loader.loadClass(Describes.class.getName()), scalar);

        assertTrue(compiled.get(0).stream().allMatch(text -> text.toString().contains("address=0x" + address)),
                "as compiled, each text shows the address: " + compiled.get(0));
        assertEquals((int) scalar.address(), compiled.get(1).get(0));
        for (Object text : shipped.get(0)) {
            assertFalse(text.toString().contains(address) || text.toString().contains("address="), text.toString());
            assertTrue(text.toString().contains("Scalar@"), text.toString());
        }
        int hash = AddressFree.hashCode(scalar);
        assertNotEquals((int) scalar.address(), hash);
        // One hash for one object, however it is asked for, combined as the JDK specifies
        assertEquals(List.of(hash, hash, hash, hash, hash, hash, hash, hash), shipped.get(1));
    }

    @Test
    void hashCode_equalPointers_haveEqualHashes() {
        Scalar scalar = new Scalar(2.0);
        Pointer same = new Pointer(scalar);

        assertEquals(scalar, same);
        assertEquals(AddressFree.hashCode(scalar), AddressFree.hashCode(same));
        assertNotEquals(AddressFree.hashCode(scalar), AddressFree.hashCode(new Scalar(2.0)));
    }

    @Test
    void text_classWithItsOwnText_keepsIt() {
        assertEquals("CPUFloatType", AddressFree.text(torch.ones(1)));
        assertEquals("[CPUFloatType, 1]", AddressFree.text(List.of(torch.ones(1), 1)));
        assertEquals("null", AddressFree.text(null));
        assertEquals("[a, 1]", AddressFree.text(new Object[] {"a", 1}));
    }

    @Test
    void toString_null_throwsAsTheCallWould() {
        assertThrows(NullPointerException.class, () -> AddressFree.toString(null));
        assertThrows(NullPointerException.class, () -> AddressFree.hashCode(null));
    }

    @Test
    void printable_valuesWithoutNativeObjects_passUnchanged() {
        List<Integer> numbers = List.of(1, 2);

        assertTrue(AddressFree.printable(numbers) == numbers);
        assertTrue(AddressFree.printable((Object) "text") == "text");
        assertTrue(AddressFree.printable(List.of(new Scalar(1.0))) instanceof String);
    }
}
