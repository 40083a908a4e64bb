"""Bad-behaviour records (不良行为) and the credit status derived from them."""
