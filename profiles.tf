# User profiles and segments (issue 12; README "Profiles and segments"). The tables live in
# modules/tables (profiles.tf); the users function writes profiles and their index items, push
# resolves segments through the index and checks candidates against their profiles.

locals {
  profiles_environment = {
    PROFILES_TABLE      = module.tables.profiles_table_name
    SEGMENT_INDEX_TABLE = module.tables.segment_index_table_name
    # Null (dropped) when none is declared: segments are then refused, profiles still stored.
    SEGMENT_ATTRIBUTES = length(var.segment_attributes) > 0 ? join(",", var.segment_attributes) : null
  }
}
