def write_outputs(*a, **k): pass
