print("stockade-bench")
