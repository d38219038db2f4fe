--------------------------------- MODULE Json ---------------------------------
(***************************************************************************)
(* Buffy's own version of the community module Json. Reading and writing   *)
(* JSON files is done by TLC's Java engine; Buffy does not do it from      *)
(* expressions (its checker writes traces as ITF JSON: --json, buffy       *)
(* traces). Each operator stops the check with an error naming it when it  *)
(* is evaluated, so a model that only mentions them still checks.          *)
(***************************************************************************)
LOCAL INSTANCE TLC

ToJson(value) == Assert(FALSE, "Json!ToJson is not supported by Buffy")
ToJsonArray(value) == Assert(FALSE, "Json!ToJsonArray is not supported by Buffy")
ToJsonObject(value) == Assert(FALSE, "Json!ToJsonObject is not supported by Buffy")
JsonSerialize(absoluteFilename, value) ==
  Assert(FALSE, "Json!JsonSerialize is not supported by Buffy: write traces with buffy check --json or buffy traces")
JsonDeserialize(absoluteFilename) ==
  Assert(FALSE, "Json!JsonDeserialize is not supported by Buffy: give the data as a constant in the model")
ndJsonSerialize(absoluteFilename, value) ==
  Assert(FALSE, "Json!ndJsonSerialize is not supported by Buffy: write traces with buffy check --json or buffy traces")
ndJsonDeserialize(absoluteFilename) ==
  Assert(FALSE, "Json!ndJsonDeserialize is not supported by Buffy: give the data as a constant in the model")
=============================================================================
