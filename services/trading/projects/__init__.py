"""Project registration (项目登记) by a tenderee or its agency."""
