"""The trading catalogue (交易目录, 应进必进): what trades on the platform, under which law, how."""
