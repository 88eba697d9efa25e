package io.nnsight.remote.internal.allowlist;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * An allow-list: which classes shipped code may name, and which of their members it may use. The standard
 * one, {@link StandardPolicy}, is a table written with {@link #rules()}; this class evaluates it.
 *
 * <h2>How the rules read</h2>
 *
 * <p>There are two lists, each tried in order, where <b>the first rule that matches decides</b>, so every
 * exception comes before the rule it narrows (like a firewall's):
 *
 * <ul>
 *   <li><b>Class rules</b> allow or refuse a class as a type. A class no rule matches is refused.
 *   <li><b>Member rules</b> allow or deny fields, methods and constructors ({@code <init>}) of the classes
 *       they match. A member no member rule matches gets the verdict of its class.
 * </ul>
 *
 * <p>Two more lists complete a policy: the bootstrap methods that {@code invokedynamic} and dynamic
 * constants may use (lambdas, string concatenation, records, switches), and the classes that the job's class
 * loader hands out although shipped code may not name them, because the JVM links to them on its behalf.
 *
 * <p>Class patterns are binary names with dots: {@code *} stands for any part of one name segment
 * ({@code java.lang.*Exception}), {@code **} for anything, packages included ({@code java.io.**}), and
 * {@code {a,b}} for either ({@code java.lang.{Thread,ThreadGroup}}). A pattern also matches the nested
 * classes of what it matches: {@code org.bytedeco.pytorch.global.torch} covers {@code torch$ScalarType}.
 * Member patterns are names where {@code *} stands for anything ({@code set_*}); a pattern with a
 * parenthesis is matched against name and descriptor ({@code printStackTrace()V}).
 *
 * <h2>What a rule's verdict means</h2>
 *
 * <p>The policy answers about one class or one member; the whole check of a reference (its owner, the
 * class that declares the member, the types in its descriptor) is {@link ClassCheck}'s. One thing the rules
 * carry for it: a member that a member rule <i>allows</i> is vetted as it stands, so the types in its
 * descriptor are not checked again ({@code PointerScope.attach(Pointer)} is fine although {@code Pointer}
 * is not).
 */
public final class Policy {
    /** How many verdicts of each kind a policy remembers; names beyond are judged every time. */
    private static final int REMEMBERED = 1 << 14;

    private final Rules rules;
    private final ServerClasses server;
    private final Map<String, Verdict> types = new ConcurrentHashMap<>();
    private final Map<Member, Verdict> members = new ConcurrentHashMap<>();
    private final Map<String, Boolean> visible = new ConcurrentHashMap<>();

    private Policy(Rules rules, ServerClasses server) {
        this.rules = rules;
        this.server = server;
    }

    /** The server's standard policy, looking at the server's classes through {@code server}. */
    public static Policy standard(ServerClasses server) {
        return new Policy(StandardPolicy.RULES, server);
    }

    /**
     * This policy, with the job's class loader also handing out {@code classes}, which shipped code may not
     * name but which its rewritten code calls (the sandbox's deadline, output and address-free text).
     */
    public Policy alsoLinking(Class<?>... classes) {
        Rules.Builder more = new Rules.Builder();
        for (Class<?> type : classes) {
            more.linkedOnly(type.getName());
        }
        return new Policy(rules.plus(more), server);
    }

    /** Starts a table of rules. */
    static Rules.Builder rules() {
        return new Rules.Builder();
    }

    /**
     * Whether shipped code may name the class (binary name, dots) as a type. Verdicts are remembered: they depend on
     * the name and the server's classes only, which do not change while the server runs.
     */
    public Verdict type(String className) {
        return remembered(types, className, this::judgeType);
    }

    private Verdict judgeType(String className) {
        for (ClassRule rule : rules.classes) {
            if (rule.classes.matches(className, server)) {
                return new Verdict(rule.refusal, false);
            }
        }
        return new Verdict(Reason.NOT_ALLOWED, false);
    }

    /** Whether shipped code may use the member {@code name} (descriptor {@code descriptor}) of the class. */
    public Verdict member(String className, String name, String descriptor) {
        return remembered(members, new Member(className, name, descriptor),
                member -> judgeMember(className, name, descriptor));
    }

    private Verdict judgeMember(String className, String name, String descriptor) {
        for (MemberRule rule : rules.members) {
            if (rule.classes.matches(className, server) && rule.matches(name, descriptor)) {
                return new Verdict(rule.refusal, true);
            }
        }
        return type(className);
    }

    /** Whether shipped code may use the method to bootstrap an {@code invokedynamic} or a dynamic constant. */
    public boolean bootstrap(String className, String methodName) {
        return rules.bootstraps.stream()
                .anyMatch(rule -> rule.classes.matches(className, server) && rule.matches(methodName, ""));
    }

    /**
     * Whether the job's class loader hands out the server's class of this name: the classes shipped code
     * may name, and those the JVM links on its behalf (bootstrap methods and the types in their signatures,
     * and the classes the rewritten code calls).
     */
    public boolean visible(String className) {
        return remembered(visible, className, name -> type(name).allowed()
                || rules.linkedOnly.stream().anyMatch(classes -> classes.matches(name, server)));
    }

    /**
     * The value of {@code key} in {@code memo}, judged and remembered if absent and the memo is not full (its keys
     * come from requests, so it must not grow without bound).
     */
    private static <K, T> T remembered(Map<K, T> memo, K key, Function<K, T> judge) {
        T known = memo.get(key);
        if (known != null) {
            return known;
        }
        T verdict = judge.apply(key);
        if (memo.size() < REMEMBERED) {
            memo.put(key, verdict);
        }
        return verdict;
    }

    /** A member of a class, as a reference names it. */
    private record Member(String className, String name, String descriptor) {}

    /**
     * A verdict: allowed, or refused for a reason.
     *
     * @param refusal why it is refused; {@code null} when allowed
     * @param byMemberRule whether a member rule decided (rather than the class rule of the member's class)
     */
    public record Verdict(Reason refusal, boolean byMemberRule) {
        /** Whether it is allowed. */
        public boolean allowed() {
            return refusal == null;
        }

        /** Whether a member rule allowed the member by name, which vouches for its descriptor too. */
        public boolean vetted() {
            return allowed() && byMemberRule;
        }
    }

    /** Classes a rule is about: those a name pattern matches, optionally only subclasses of one class. */
    static final class Classes {
        private final Pattern names;
        private final String superclass;

        private Classes(Pattern names, String superclass) {
            this.names = names;
            this.superclass = superclass;
        }

        /** The classes whose binary names match the pattern (see {@link Policy} for the syntax). */
        static Classes named(String pattern) {
            return new Classes(Pattern.compile(classRegex(pattern)), null);
        }

        /** These classes, narrowed to {@code superclass} (binary name) and its subclasses on the server. */
        Classes extending(String superclass) {
            return new Classes(names, Objects.requireNonNull(superclass));
        }

        boolean matches(String className, ServerClasses server) {
            return names.matcher(className).matches()
                    && (superclass == null || server.isSubclass(className, superclass));
        }

        private static String classRegex(String pattern) {
            StringBuilder regex = new StringBuilder();
            for (int i = 0; i < pattern.length(); i++) {
                char c = pattern.charAt(i);
                switch (c) {
                    case '*' -> {
                        boolean deep = i + 1 < pattern.length() && pattern.charAt(i + 1) == '*';
                        regex.append(deep ? ".*" : "[^.]*");
                        i += deep ? 1 : 0;
                    }
                    case '{' -> regex.append("(?:");
                    case ',' -> regex.append('|');
                    case '}' -> regex.append(')');
                    default -> regex.append(Pattern.quote(String.valueOf(c)));
                }
            }
            return regex.append("(?:\\$.*)?").toString();
        }
    }

    /** Allows ({@code refusal == null}) or refuses the classes as types. */
    private record ClassRule(Classes classes, Reason refusal) {}

    /** Allows ({@code refusal == null}) or denies the members of the classes that match one of the patterns. */
    private record MemberRule(Classes classes, List<MemberPattern> members, Reason refusal) {
        boolean matches(String name, String descriptor) {
            return members.stream().anyMatch(member -> member.matches(name, descriptor));
        }
    }

    /** A member pattern: {@code *} stands for anything; with a parenthesis it covers the descriptor too. */
    private record MemberPattern(Pattern regex, boolean withDescriptor) {
        static List<MemberPattern> compile(String... patterns) {
            return Arrays.stream(patterns)
                    .map(pattern -> new MemberPattern(
                            Pattern.compile(Arrays.stream(pattern.split("\\*", -1))
                                    .map(Pattern::quote)
                                    .collect(Collectors.joining(".*"))),
                            pattern.contains("(")))
                    .toList();
        }

        boolean matches(String name, String descriptor) {
            return regex.matcher(withDescriptor ? name + descriptor : name).matches();
        }
    }

    /** An immutable table of rules; build one with {@link Policy#rules()}. */
    static final class Rules {
        private final List<ClassRule> classes;
        private final List<MemberRule> members;
        private final List<MemberRule> bootstraps;
        private final List<Classes> linkedOnly;

        private Rules(Builder builder) {
            this.classes = List.copyOf(builder.classes);
            this.members = List.copyOf(builder.members);
            this.bootstraps = List.copyOf(builder.bootstraps);
            this.linkedOnly = List.copyOf(builder.linkedOnly);
        }

        private Rules(List<ClassRule> classes, List<MemberRule> members, List<MemberRule> bootstraps,
                List<Classes> linkedOnly) {
            this.classes = classes;
            this.members = members;
            this.bootstraps = bootstraps;
            this.linkedOnly = linkedOnly;
        }

        /** These rules followed by those of {@code more}. */
        Rules plus(Builder more) {
            return new Rules(concat(classes, more.classes), concat(members, more.members),
                    concat(bootstraps, more.bootstraps), concat(linkedOnly, more.linkedOnly));
        }

        private static <T> List<T> concat(List<T> first, List<T> second) {
            List<T> all = new ArrayList<>(first);
            all.addAll(second);
            return List.copyOf(all);
        }

        /** Collects rules in the order they are tried. */
        static final class Builder {
            private final List<ClassRule> classes = new ArrayList<>();
            private final List<MemberRule> members = new ArrayList<>();
            private final List<MemberRule> bootstraps = new ArrayList<>();
            private final List<Classes> linkedOnly = new ArrayList<>();

            /** Allows the classes as types (and their members, unless a member rule says otherwise). */
            Builder allow(String... classPatterns) {
                for (String pattern : classPatterns) {
                    allow(Classes.named(pattern));
                }
                return this;
            }

            Builder allow(Classes classes) {
                this.classes.add(new ClassRule(classes, null));
                return this;
            }

            /** Refuses the classes as types (and their members, unless a member rule allows one). */
            Builder refuse(Reason why, String... classPatterns) {
                for (String pattern : classPatterns) {
                    classes.add(new ClassRule(Classes.named(pattern), why));
                }
                return this;
            }

            /** Allows these members of the classes, whatever their class rule and descriptors say. */
            Builder allowMembers(String classPattern, String... memberPatterns) {
                return allowMembers(Classes.named(classPattern), memberPatterns);
            }

            Builder allowMembers(Classes classes, String... memberPatterns) {
                members.add(new MemberRule(classes, MemberPattern.compile(memberPatterns), null));
                return this;
            }

            /** Denies these members of the classes. */
            Builder denyMembers(Reason why, String classPattern, String... memberPatterns) {
                return denyMembers(why, Classes.named(classPattern), memberPatterns);
            }

            Builder denyMembers(Reason why, Classes classes, String... memberPatterns) {
                members.add(new MemberRule(classes, MemberPattern.compile(memberPatterns), why));
                return this;
            }

            /** Allows only these members of the classes and denies all others. */
            Builder onlyMembers(Reason why, String classPattern, String... memberPatterns) {
                return onlyMembers(why, Classes.named(classPattern), memberPatterns);
            }

            Builder onlyMembers(Reason why, Classes classes, String... memberPatterns) {
                return allowMembers(classes, memberPatterns).denyMembers(why, classes, "*");
            }

            /** Allows these methods as bootstrap methods of {@code invokedynamic} and dynamic constants. */
            Builder bootstraps(String classPattern, String... methodPatterns) {
                bootstraps.add(
                        new MemberRule(Classes.named(classPattern), MemberPattern.compile(methodPatterns), null));
                return this;
            }

            /**
             * Makes the job's class loader hand out these classes, which shipped code may not name: the JVM
             * links to them on its behalf.
             */
            Builder linkedOnly(String... classPatterns) {
                for (String pattern : classPatterns) {
                    linkedOnly.add(Classes.named(pattern));
                }
                return this;
            }

            Rules build() {
                return new Rules(this);
            }
        }
    }
}
