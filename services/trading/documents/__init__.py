"""Tender documents (招标文件): streamed uploads into the content-addressed store, downloads by any
bidder without a sign-up gate (电子招标投标办法 第二十条), and the download record kept secret until
the bid deadline (第二十一条)."""
