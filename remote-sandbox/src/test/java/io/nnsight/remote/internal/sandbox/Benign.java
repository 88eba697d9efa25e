package io.nnsight.remote.internal.sandbox;

import io.nnsight.Inputs;
import io.nnsight.NNsight;
import io.nnsight.Steps;
import io.nnsight.nn.Linear;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AbstractTensor;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Intervention-style code the sandbox must accept and run unchanged in behaviour. Each case is a
 * {@link Supplier} that the tests run both as compiled and as the sandbox rewrote it.
 */
final class Benign {
    private Benign() {}

    /** Lambdas, method references, a serializable lambda, streams and string concatenation. */
    static final class Streams implements Supplier<Object> {
        @Override
        public Object get() {
            List<String> words = List.of("delta", "alpha", "charlie", "bravo", "echo");
            String joined = words.stream()
                    .filter(word -> word.length() > 4)
                    .map(String::toUpperCase)
                    .sorted(Comparator.naturalOrder())
                    .collect(Collectors.joining(","));
            Supplier<String> serializable = (Supplier<String> & Serializable) () -> "serializable";
            int sum = IntStream.rangeClosed(1, 10).map(i -> i * i).sum();
            return joined + " " + sum + " " + serializable.get();
        }
    }

    record Point(int x, int y) {
        Point scaled(int factor) {
            return new Point(x * factor, y * factor);
        }
    }

    enum Color {
        RED,
        GREEN,
        BLUE
    }

    /** Records (their methods come from an invokedynamic bootstrap), enums and a switch over one. */
    static final class RecordsAndEnums implements Supplier<Object> {
        @Override
        public Object get() {
            Point point = new Point(1, 2).scaled(3);
            StringBuilder text = new StringBuilder(point.toString());
            text.append(point.equals(new Point(3, 6))).append(point.hashCode() == new Point(3, 6).hashCode());
            for (Color color : Color.values()) {
                switch (color) {
                    case RED -> text.append(" r");
                    case GREEN -> text.append(" g");
                    default -> text.append(" ").append(color.name().toLowerCase());
                }
            }
            return text.toString();
        }
    }

    /** Loops, switches, labelled jumps, exceptions, finally and try-with-resources: the rewriting's hard cases. */
    static final class ControlFlow implements Supplier<Object> {
        private int closed;

        @Override
        @SuppressWarnings("try")
        public Object get() {
            long checksum = 0;
            outer:
            for (int i = 0; i < 20; i++) {
                int j = 0;
                do {
                    j++;
                    if (j == 3) {
                        continue;
                    }
                    if (i * j > 60) {
                        continue outer;
                    }
                    checksum += (long) i * j;
                } while (j < 5);
                switch (i % 4) {
                    case 0 -> checksum += 1;
                    case 1 -> checksum += 10;
                    case 2 -> checksum += 100;
                    default -> checksum -= 1;
                }
                switch (i * 1000) {
                    case 0, 5000 -> checksum *= 2;
                    case 17000 -> checksum += 7;
                    default -> {}
                }
                if (i == 15) {
                    break;
                }
            }
            for (String word : new String[] {"one", "two", "three"}) {
                switch (word) {
                    case "one" -> checksum += 3;
                    case "two" -> checksum += 5;
                    default -> checksum += word.length();
                }
            }
            int k = 0;
            while (true) {
                try {
                    if (++k % 3 == 0) {
                        throw new IllegalStateException("k=" + k);
                    }
                    checksum += k;
                } catch (IllegalStateException e) {
                    checksum += e.getMessage().length();
                } finally {
                    checksum ^= 1;
                }
                if (k > 10) {
                    break;
                }
            }
            try (AutoCloseable resource = () -> closed++) {
                checksum += closed;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return checksum + ":" + closed + ":" + fibonacci(15) + ":" + anonymousOrder();
        }

        private static int fibonacci(int n) {
            return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
        }

        private static String anonymousOrder() {
            List<String> names = new ArrayList<>(List.of("b", "cc", "a"));
            names.sort(new Comparator<String>() {
                @Override
                public int compare(String left, String right) {
                    return Integer.compare(right.length(), left.length());
                }
            });
            Map<String, Integer> counts = new TreeMap<>();
            names.forEach(name -> counts.merge(name.substring(0, 1), 1, Integer::sum));
            return names + "" + counts;
        }
    }

    /** The nnsight API and tensor math. */
    static final class TensorMath implements Supplier<Object> {
        @Override
        @SuppressWarnings("try")
        public Object get() {
            try (PointerScope scope = new PointerScope()) {
                Tensor logits = AbstractTensor.create(1f, 2f, 3f);
                Tensor doubled = torch.softmax(logits, 0).mul(new Scalar(2.0));
                float total = doubled.sum().item_float();
                return Math.round(total * 1000) / 1000.0 + " " + Steps.range(0, 3) + " " + Inputs.of(logits).size();
            }
        }
    }

    /** Printing, which goes to the job's log. */
    static final class Prints implements Supplier<Object> {
        @Override
        public Object get() {
            System.out.println("hello from the job");
            List.of("a", "b").forEach(System.out::println);
            System.err.print("partial");
            return null;
        }
    }

    /** A trace whose body prints, then loops forever: the deadline must reach the body on either engine. */
    static final class EndlessTraceBody implements Supplier<Object> {
        @Override
        public Object get() {
            NNsight model = NNsight.wrap(new Linear(2, 2));
            return model.trace(torch.ones(1, 2), tracer -> {
                Tensor output = model.output();
                System.out.println("the body sees " + output.size(1) + " features");
                long spins = 0;
                while (true) {
                    spins++;
                }
            });
        }
    }

    /** A loop that never ends: the deadline must stop it. */
    static final class Endless implements Supplier<Object> {
        private long spins;

        @Override
        public Object get() {
            while (true) {
                spins++;
            }
        }
    }

    /** A loop that swallows every throwable, the timeout included: the deadline must stop it anyway. */
    static final class Stubborn implements Supplier<Object> {
        private long swallowed;

        @Override
        public Object get() {
            while (true) {
                try {
                    spin();
                } catch (Throwable t) {
                    swallowed++;
                }
            }
        }

        private static void spin() {
            double sink = 0;
            for (int i = 0; i < 1000; i++) {
                sink += Math.sqrt(i);
            }
            if (sink < 0) {
                throw new IllegalStateException();
            }
        }
    }
}
