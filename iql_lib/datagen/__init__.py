"""Local AntMaze data: a rhythmic ant gait, a waypoint planner, and a D4RL-style generator."""
