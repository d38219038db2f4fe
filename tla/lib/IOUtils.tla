------------------------------- MODULE IOUtils -------------------------------
(***************************************************************************)
(* Buffy's own version of the community module IOUtils.                    *)
(*                                                                         *)
(* IOEnv, the environment variables of the checking process as a record   *)
(* (IOEnv.HOME...), is defined by Buffy's module loader when it reads this *)
(* module (loadSpec's env option; by default the environment of the buffy  *)
(* process), since TLA+ cannot read it. Running programs and reading or    *)
(* writing files from expressions (IOExec, IOSerialize...) is not done by  *)
(* Buffy: those operators stop with an error naming them when evaluated.   *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE Integers
LOCAL INSTANCE Sequences
LOCAL INSTANCE TLC

\* The integer a string of decimal digits (optionally after "-") stands for:
\* atoi("42") = 42, atoi("-7") = -7.
atoi(str) ==
  LET Digit(c) == CHOOSE d \in 0..9 : ToString(d) = c
      RECURSIVE Value(_)
      Value(s) == IF Len(s) = 0 THEN 0
                  ELSE 10 * Value(SubSeq(s, 1, Len(s) - 1)) + Digit(SubSeq(s, Len(s), Len(s)))
  IN IF Len(str) > 1 /\ SubSeq(str, 1, 1) = "-" THEN -Value(SubSeq(str, 2, Len(str)))
     ELSE IF Len(str) > 0 THEN Value(str)
     ELSE Assert(FALSE, "atoi of the empty string")

\* The decimal digits of the natural number n, with zeros in front to make
\* at least pad characters: zeroPadN(42, 4) = "0042".
zeroPadN(n, pad) ==
  LET RECURSIVE Pad(_)
      Pad(s) == IF Len(s) >= pad THEN s ELSE Pad("0" \o s)
  IN Pad(ToString(n))

IOExec(command) ==
  Assert(FALSE, "IOUtils!IOExec is not supported by Buffy: it does not run programs from expressions")
IOExecTemplate(commandTemplate, parameters) ==
  Assert(FALSE, "IOUtils!IOExecTemplate is not supported by Buffy: it does not run programs from expressions")
IOEnvExec(env, command) ==
  Assert(FALSE, "IOUtils!IOEnvExec is not supported by Buffy: it does not run programs from expressions")
IOEnvExecTemplate(env, commandTemplate, parameters) ==
  Assert(FALSE, "IOUtils!IOEnvExecTemplate is not supported by Buffy: it does not run programs from expressions")
IOSerialize(value, absoluteFilename, compress) ==
  Assert(FALSE, "IOUtils!IOSerialize is not supported by Buffy: it does not write files from expressions")
IODeserialize(absoluteFilename, compressed) ==
  Assert(FALSE, "IOUtils!IODeserialize is not supported by Buffy: give the data as a constant in the model")
Serialize(value, dest, options) ==
  Assert(FALSE, "IOUtils!Serialize is not supported by Buffy: it does not write files from expressions")
Deserialize(src, options) ==
  Assert(FALSE, "IOUtils!Deserialize is not supported by Buffy: give the data as a constant in the model")
=============================================================================
