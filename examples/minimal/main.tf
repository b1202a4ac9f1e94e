# Defaults only: HS256 authentication reading the secret from SSM parameter /ws-notify/jwt-secret
# (create it yourself, see README), no client push, no broadcast, no HTTP endpoint.
module "notifications" {
  source = "../.."
}
