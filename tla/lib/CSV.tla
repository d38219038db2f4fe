--------------------------------- MODULE CSV ---------------------------------
(***************************************************************************)
(* Buffy's own version of the community module CSV. Reading and writing    *)
(* CSV files from expressions is done by TLC's Java engine, not by Buffy:  *)
(* each operator stops with an error naming it when evaluated, so a model  *)
(* that only mentions them still checks.                                   *)
(***************************************************************************)
LOCAL INSTANCE TLC

CSVWrite(template, val, file) ==
  Assert(FALSE, "CSV!CSVWrite is not supported by Buffy: it does not write files from expressions")
CSVRead(columns, delim, file) ==
  Assert(FALSE, "CSV!CSVRead is not supported by Buffy: give the data as a constant in the model")
CSVRecords(file) ==
  Assert(FALSE, "CSV!CSVRecords is not supported by Buffy: give the data as a constant in the model")
=============================================================================
