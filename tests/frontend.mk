# tests for frontend
