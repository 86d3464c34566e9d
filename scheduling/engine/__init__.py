"""The slot engine and the course planner: when resources are free, where a course's sessions fit."""
