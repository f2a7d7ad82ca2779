# tests for intake
