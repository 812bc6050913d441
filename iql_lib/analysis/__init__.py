"""Reading finished runs: seeds summarised (`results`), tables, reports and plots, value
maps, AntMaze reach and the actor's advantage weights."""
