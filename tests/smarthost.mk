# tests for smarthost
