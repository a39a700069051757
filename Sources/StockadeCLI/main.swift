print("stockade")
